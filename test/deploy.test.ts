/**
 * The deploy files, checked without a Docker engine or a cluster: every YAML
 * parses and passes deploy/validate.ts (objects, images, commands, probes,
 * ports, variable names against the apps' schemas); the validator catches
 * the mistakes it is there for; and where the tools exist, `docker compose
 * config` and `kubectl kustomize` accept the files.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { knownVariables, validateDeploy, yamlFiles } from '../deploy/validate.js';
import { REPO_ROOT } from './support/fixtures.js';

function has(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return result.status === 0;
}

describe('deploy files', () => {
  const temps: string[] = [];
  afterEach(() => {
    for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of deploy/ beside the real apps, with `edit` applied to one file. */
  function mutated(file: string, edit: (text: string) => string): string {
    const root = mkdtempSync(path.join(os.tmpdir(), 'deploy-check-'));
    temps.push(root);
    cpSync(path.join(REPO_ROOT, 'deploy'), path.join(root, 'deploy'), { recursive: true });
    symlinkSync(path.join(REPO_ROOT, 'apps'), path.join(root, 'apps'));
    const target = path.join(root, 'deploy', file);
    const before = readFileSync(target, 'utf8');
    const after = edit(before);
    expect(after, `the edit of ${file} changed nothing`).not.toBe(before);
    writeFileSync(target, after);
    return root;
  }

  it('parse and pass every check', () => {
    const report = validateDeploy();
    expect(report.problems).toEqual([]);
    expect(report.files).toEqual(expect.arrayContaining(['deploy/compose.yaml', 'deploy/k8s/workers.yaml', 'deploy/k8s/gateway.yaml']));
    expect(yamlFiles().length).toBe(report.files.length);
  });

  it('know the variables of each app from its schema', () => {
    const gateway = knownVariables('gateway');
    const workers = knownVariables('workers');
    expect(gateway?.has('MAX_BODY_BYTES')).toBe(true);
    expect(gateway?.has('PERSIST_QUEUE')).toBe(true); // the shared topology
    expect(gateway?.has('STORAGE_DIR')).toBe(false);
    expect(workers?.has('HG_SERVER')).toBe(true); // the shared conversion variables
    expect(workers?.has('STORAGE_DIR')).toBe(true);
  });

  it.each([
    ['compose.yaml', (t: string) => t.replace('MAX_BODY_BYTES: ${MAX_BODY_BYTES', 'MAX_BODY_BYTE: ${MAX_BODY_BYTES'), 'MAX_BODY_BYTE is not a variable of the gateway app'],
    ['compose.yaml', (t: string) => t.replace("127.0.0.1:9101/ready", '127.0.0.1:9102/ready'), 'the healthcheck must ask /ready on port 9101'],
    ['compose.yaml', (t: string) => t.replace('    command: [node, --import, tsx, apps/workers/src/main.ts]', '    command: [node, --import, tsx, apps/workers/src/main.ts]\n    ports: ["9101:9101"]'), 'prevent --scale workers=N'],
    ['compose.yaml', (t: string) => t.replace('apps/stats/src/main.ts', 'apps/stats/src/mian.ts'), 'command does not run apps/stats/src/main.ts'],
    ['k8s/workers.yaml', (t: string) => t.replace('queueName: telemetry.persist', 'queueName: telemetry.stats'), "queueName must be PERSIST_QUEUE"],
    ['k8s/storage.yaml', (t: string) => t.replace('- ReadWriteMany', '- ReadWriteOnce'), 'must be ReadWriteMany'],
    ['k8s/gateway.yaml', (t: string) => t.replace('path: /ready', 'path: /readyz'), 'readiness probe must ask /ready'],
    ['k8s/stats.yaml', (t: string) => t.replace('- name: STATS_PORT', '- name: STAT_PORT'), 'STAT_PORT is not a variable of the stats app'],
    ['k8s/configmap.yaml', (t: string) => t.replace('DEDUP_TTL: 24h', 'DEDUP_TIME: 24h'), 'DEDUP_TIME is not a variable of any app'],
    ['k8s/kustomization.yaml', (t: string) => t.replace('  - stats.yaml\n', ''), 'stats.yaml is not listed'],
    ['k8s/gateway.yaml', (t: string) => t.replace('targetPort: http', 'targetPort: web'), 'targets port web'],
    ['k8s/workers.yaml', (t: string) => t.replace('key: REDIS_URL', 'key: REDIS'), 'secret key REDIS is not in secret.example.yaml'],
    ['k8s/stats.yaml', (t: string) => t.replace('metadata:\n  name: stats\n  namespace: telemetry', 'metadata:\n  name: stats\n  namespace: default'), 'is not in namespace telemetry'],
    ['k8s/gateway.yaml', (t: string) => t.replace('        name: cpu', '        name: memory'), 'the gateway HPA must scale on CPU'],
    ['Dockerfile', (t: string) => t.replaceAll('xz-utils', 'xz'), 'xz-utils installed'],
    ['Dockerfile', (t: string) => t.replace('USER node', 'USER root'), 'must run as a non-root user'],
    ['Dockerfile', (t: string) => t.replace('EXPOSE 8080 8081', 'EXPOSE 8080 80a81'), 'Invalid containerPort: 80a81'],
    ['Dockerfile', (t: string) => t.replace('npm ci --omit=dev', 'npm ci'), 'npm ci --omit=dev'],
    ['k8s/disruption-budgets.yaml', (t: string) => t.replace('  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: workers', '  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: worker'), 'Deployment workers: no PodDisruptionBudget'],
    ['k8s/gateway.yaml', (t: string) => t.replace('      terminationGracePeriodSeconds: 30\n', ''), 'no terminationGracePeriodSeconds'],
    ['k8s/stats.yaml', (t: string) => t.replace('livenessProbe:', 'livenesProbe:'), 'has no liveness probe'],
    ['k8s/gateway.yaml', (t: string) => t.replace('  replicas: 2', '  replicas: two'), 'fails its schema'],
    ['k8s/workers.yaml', (t: string) => t.replace('minReplicaCount: 1', 'minReplicaCount: one'), 'fails its schema'],
    ['k8s/disruption-budgets.yaml', (t: string) => t.replace('apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: stats', 'apiVersion: policy/v1\nkind: PodDisruptionBudgt\nmetadata:\n  name: stats'), 'no schema for policy/v1 PodDisruptionBudgt'],
  ])('catch a broken %s (%#)', (file, edit, expected) => {
    const report = validateDeploy(mutated(file, edit));
    expect(report.problems.join('\n')).toContain(expected);
  });

  it('reports a file that does not parse', () => {
    const report = validateDeploy(mutated('k8s/namespace.yaml', (t) => `${t}\n  bad: [unclosed\n`));
    expect(report.problems.join('\n')).toMatch(/deploy\/k8s\/namespace\.yaml: does not parse/);
  });

  it('pass `docker compose config` where a compose client exists', (context) => {
    const file = path.join(REPO_ROOT, 'deploy', 'compose.yaml');
    let result;
    if (has('docker', ['compose', 'version'])) {
      result = spawnSync('docker', ['compose', '-f', file, 'config', '--quiet'], { encoding: 'utf8', timeout: 30_000 });
    } else if (has('docker-compose', ['version'])) {
      // Compose v1 (Debian's docker-compose) predates the top-level `name`: check the rest.
      const dir = mkdtempSync(path.join(os.tmpdir(), 'compose-v1-'));
      temps.push(dir);
      const copy = path.join(dir, 'compose.yaml');
      writeFileSync(copy, readFileSync(file, 'utf8').replace(/^name: .*$/m, ''));
      result = spawnSync('docker-compose', ['-f', copy, '--project-directory', path.dirname(file), '-p', 'telemetry', 'config', '--quiet'], {
        encoding: 'utf8',
        timeout: 30_000,
      });
    } else {
      context.skip();
      return;
    }
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
  });

  it('build with `kubectl kustomize` where kubectl exists', (context) => {
    if (!has('kubectl', ['version', '--client'])) {
      context.skip();
      return;
    }
    const result = spawnSync('kubectl', ['kustomize', path.join(REPO_ROOT, 'deploy', 'k8s')], { encoding: 'utf8', timeout: 30_000 });
    expect(result.status, result.stderr).toBe(0);
    for (const kind of ['Namespace', 'ConfigMap', 'PersistentVolumeClaim', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'ScaledObject', 'TriggerAuthentication', 'PodDisruptionBudget']) {
      expect(result.stdout).toContain(`kind: ${kind}\n`);
    }
    expect(result.stdout).toContain('image: telemetry-pipeline:0.1.0');
  });
});
