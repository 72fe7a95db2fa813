/**
 * The deploy files, checked without a Docker engine or a cluster: every YAML
 * parses and passes deploy/validate.ts (objects, images, commands, probes,
 * ports, variable names against the apps' schemas, pod hardening, the
 * overlays as built); the validator catches the mistakes it is there for; the
 * image's version.json writer works; and where the tools exist, `docker
 * compose config` accepts the compose file and `kubectl kustomize` builds the
 * base and each overlay exactly as the TypeScript build does.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildKustomization } from '../deploy/checks/kustomize.js';
import { knownVariables, validateDeploy, yamlFiles } from '../deploy/validate.js';
import { REPO_ROOT } from './support/fixtures.js';

const yaml = createRequire(import.meta.url)('js-yaml') as { loadAll(text: string): unknown[] };

function has(command: string, args: string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 });
  return result.status === 0;
}

describe('deploy files', () => {
  const temps: string[] = [];
  afterEach(() => {
    for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of deploy/ beside the real apps, with `edit` applied to one file (and `more` to others). */
  function mutated(file: string, edit: (text: string) => string, more: [string, (text: string) => string][] = []): string {
    const root = mkdtempSync(path.join(os.tmpdir(), 'deploy-check-'));
    temps.push(root);
    cpSync(path.join(REPO_ROOT, 'deploy'), path.join(root, 'deploy'), { recursive: true });
    symlinkSync(path.join(REPO_ROOT, 'apps'), path.join(root, 'apps'));
    for (const [name, change] of [[file, edit] as const, ...more]) {
      const target = path.join(root, 'deploy', name);
      const before = readFileSync(target, 'utf8');
      const after = change(before);
      expect(after, `the edit of ${name} changed nothing`).not.toBe(before);
      writeFileSync(target, after);
    }
    return root;
  }

  it('parse and pass every check', () => {
    const report = validateDeploy();
    expect(report.problems).toEqual([]);
    expect(report.files).toEqual(
      expect.arrayContaining(['deploy/compose.yaml', 'deploy/k8s/base/workers.yaml', 'deploy/k8s/base/gateway.yaml', 'deploy/k8s/overlays/dev/kustomization.yaml', 'deploy/k8s/overlays/prod/kustomization.yaml']),
    );
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
    ['k8s/base/workers.yaml', (t: string) => t.replace('queueName: telemetry.persist', 'queueName: telemetry.stats'), "queueName must be PERSIST_QUEUE"],
    ['k8s/base/storage.yaml', (t: string) => t.replace('- ReadWriteMany', '- ReadWriteOnce'), 'must be ReadWriteMany'],
    ['k8s/base/gateway.yaml', (t: string) => t.replace('path: /ready,', 'path: /readyz,'), 'readiness probe must ask /ready'],
    ['k8s/base/stats.yaml', (t: string) => t.replace('- name: STATS_PORT', '- name: STAT_PORT'), 'STAT_PORT is not a variable of the stats app'],
    ['k8s/base/configmap.yaml', (t: string) => t.replace('DEDUP_TTL: 24h', 'DEDUP_TIME: 24h'), 'DEDUP_TIME is not a variable of any app'],
    ['k8s/base/kustomization.yaml', (t: string) => t.replace('  - stats.yaml\n', ''), 'stats.yaml is not listed'],
    ['k8s/base/gateway.yaml', (t: string) => t.replace('targetPort: http', 'targetPort: web'), 'targets port web'],
    ['k8s/base/workers.yaml', (t: string) => t.replace('key: REDIS_URL', 'key: REDIS'), 'secret key REDIS is not in secret.example.yaml'],
    ['k8s/base/stats.yaml', (t: string) => t.replace('metadata:\n  name: stats\n  namespace: telemetry', 'metadata:\n  name: stats\n  namespace: default'), 'is not in namespace telemetry'],
    ['k8s/base/gateway.yaml', (t: string) => t.replace('        name: cpu', '        name: memory'), 'the gateway HPA must scale on CPU'],
    ['Dockerfile', (t: string) => t.replaceAll('xz-utils', 'xz'), 'xz-utils installed'],
    ['Dockerfile', (t: string) => t.replace('USER 1000:1000', 'USER root'), 'must run as a non-root user'],
    ['Dockerfile', (t: string) => t.replace('EXPOSE 8080 8081', 'EXPOSE 8080 80a81'), 'Invalid containerPort: 80a81'],
    ['Dockerfile', (t: string) => t.replace('npm ci --omit=dev', 'npm ci'), 'npm ci --omit=dev'],
    ['k8s/base/disruption-budgets.yaml', (t: string) => t.replace('  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: workers', '  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: worker'), 'Deployment workers: no PodDisruptionBudget'],
    ['k8s/base/gateway.yaml', (t: string) => t.replace('      terminationGracePeriodSeconds: 30\n', ''), 'no terminationGracePeriodSeconds'],
    ['k8s/base/stats.yaml', (t: string) => t.replace('livenessProbe:', 'livenesProbe:'), 'has no liveness probe'],
    ['k8s/base/gateway.yaml', (t: string) => t.replace('  replicas: 2', '  replicas: two'), 'fails its schema'],
    ['k8s/base/workers.yaml', (t: string) => t.replace('minReplicaCount: 1', 'minReplicaCount: one'), 'fails its schema'],
    ['k8s/base/disruption-budgets.yaml', (t: string) => t.replace('apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: stats', 'apiVersion: policy/v1\nkind: PodDisruptionBudgt\nmetadata:\n  name: stats'), 'no schema for policy/v1 PodDisruptionBudgt'],
    // Node 24 LTS, Dockerflow's version.json, the fixed non-root user.
    ['Dockerfile', (t: string) => t.replace('FROM node:24-slim AS deps', 'FROM node:20-slim AS deps'), 'every stage must start FROM node:24-slim'],
    ['Dockerfile', (t: string) => t.replace('USER 1000:1000', 'USER node'), 'must be a numeric non-root uid:gid'],
    ['Dockerfile', (t: string) => t.replace('USER 1000:1000', 'USER 1001:1001'), "must be the image's non-root user 1001:1001"],
    ['Dockerfile', (t: string) => t.replace('ARG COMMIT=unknown\n', ''), 'ARG COMMIT must be declared'],
    ['Dockerfile', (t: string) => t.replace('deploy/version-file.ts /app/version.json', 'deploy/version-file.ts /tmp/version.json'), "must write Dockerflow's /app/version.json"],
    ['Dockerfile.dockerignore', (t: string) => t.replace('.tools\n', ''), 'must leave out .tools'],
    // Pod hardening.
    ['k8s/base/gateway.yaml', (t: string) => t.replace('readOnlyRootFilesystem: true', 'readOnlyRootFilesystem: false'), 'readOnlyRootFilesystem must be true'],
    ['k8s/base/workers.yaml', (t: string) => t.replace('allowPrivilegeEscalation: false', 'allowPrivilegeEscalation: true'), 'allowPrivilegeEscalation must be false'],
    ['k8s/base/stats.yaml', (t: string) => t.replace('capabilities: { drop: [ALL] }', 'capabilities: { drop: [NET_RAW] }'), 'capabilities must drop ALL'],
    ['k8s/base/gateway.yaml', (t: string) => t.replace('        fsGroup: 1000\n        seccompProfile: { type: RuntimeDefault }\n', '        fsGroup: 1000\n'), 'pod securityContext: seccompProfile must be RuntimeDefault'],
    ['k8s/base/workers.yaml', (t: string) => t.replace('          securityContext:\n            runAsNonRoot: true', '          securityContext:\n            runAsNonRoot: false'), 'runAsNonRoot must be true'],
    ['k8s/base/stats.yaml', (t: string) => t.replace('          securityContext:\n            runAsNonRoot: true\n            runAsUser: 1000', '          securityContext:\n            runAsNonRoot: true\n            runAsUser: 0'), "must be the image's non-root user 1000:1000"],
    ['k8s/base/workers.yaml', (t: string) => t.replace('            - name: tmp\n              mountPath: /tmp\n', ''), 'needs a writable emptyDir volume at /tmp'],
    ['k8s/base/workers.yaml', (t: string) => t.replace('              mountPath: /data\n', '              mountPath: /data\n              readOnly: true\n'), 'STORAGE_DIR=/data/storage is not on a writable volume mount'],
    ['k8s/base/configmap.yaml', (t: string) => t.replace('ERRORS_DIR: /data/errors', 'ERRORS_DIR: ./var/errors'), 'ERRORS_DIR must be set to an absolute path on a writable volume'],
    // Probes: a startup probe, heartbeats for startup and liveness, on the port the app listens on.
    ['k8s/base/gateway.yaml', (t: string) => t.replace('startupProbe:', 'startupProbes:'), 'has no startup probe'],
    ['k8s/base/gateway.yaml', (t: string) => t.replace('livenessProbe:\n            httpGet: { path: /__lbheartbeat__', 'livenessProbe:\n            httpGet: { path: /status'), 'liveness probe must ask /__lbheartbeat__'],
    ['k8s/base/workers.yaml', (t: string) => t.replace('- name: METRICS_PORT\n              value: "9101"', '- name: METRICS_PORT\n              value: "9102"'), "startup probe's port 9101 is not METRICS_PORT=9102"],
    ['k8s/base/stats.yaml', (t: string) => t.replace('            - name: STATS_PORT\n              value: "8081"\n', ''), "STATS_PORT is not set (in the ConfigMap or the container's env)"],
    // Resources and disruption budgets.
    ['k8s/base/gateway.yaml', (t: string) => t.replace('limits: { cpu: "1", memory: 512Mi }', 'limits: { cpu: "1" }'), 'needs a memory request and limit'],
    ['k8s/base/stats.yaml', (t: string) => t.replace('requests: { cpu: 200m, memory: 256Mi }', 'requests: { cpu: "2", memory: 256Mi }'), 'requests more cpu than its limit'],
    ['k8s/base/disruption-budgets.yaml', (t: string) => t.replace('  minAvailable: 1\n', '  minAvailable: 2\n'), 'lets no pod of gateway go at 2 replica(s)'],
    // Overlays, built: their own rules, and every check of the base on the result.
    ['k8s/overlays/dev/kustomization.yaml', (t: string) => t.replace('  - name: gateway\n    count: 1', '  - name: gateway\n    count: 2'), 'overlays/dev: Deployment gateway must run one replica'],
    ['k8s/overlays/dev/autoscaling.yaml', (t: string) => t.replace('  maxReplicaCount: 1', '  maxReplicaCount: 3'), 'overlays/dev: Deployment workers must run one replica'],
    ['k8s/overlays/dev/disruption-budgets.yaml', (t: string) => t.replace('  maxUnavailable: 1', '  maxUnavailable: 0'), 'lets no pod of gateway go at 1 replica(s)'],
    ['k8s/overlays/prod/resources.yaml', (t: string) => t.replace('limits: { cpu: "2", memory: 2Gi }', 'limits: { cpu: "2", memory: 512Mi }'), 'overlays/prod: Deployment workers container worker must have larger limits'],
    ['k8s/overlays/prod/kustomization.yaml', (t: string) => t.replace('  - name: stats\n    count: 2\n', ''), 'overlays/prod: Deployment stats must run more replicas'],
    ['k8s/overlays/prod/autoscaling.yaml', (t: string) => t.replace('  minReplicas: 4', '  minReplicas: four'), 'overlays/prod (built): autoscaling/v2 HorizontalPodAutoscaler gateway fails its schema'],
    ['k8s/overlays/prod/resources.yaml', (t: string) => t.replace('        - name: stats\n', '        - name: stats\n          securityContext: { readOnlyRootFilesystem: false }\n'), 'overlays/prod Deployment stats: container stats securityContext: readOnlyRootFilesystem must be true'],
    ['k8s/overlays/dev/autoscaling.yaml', (t: string) => t.replace('kind: ScaledObject', 'kind: ScaledObjects'), 'the patch of ScaledObjects workers matches no object'],
    ['k8s/overlays/prod/kustomization.yaml', (t: string) => `${t}commonLabels:\n  env: prod\n`, 'commonLabels is not supported by the TypeScript kustomize build'],
  ])('catch a broken %s (%#)', (file, edit, expected) => {
    const report = validateDeploy(mutated(file, edit));
    expect(report.problems.join('\n')).toContain(expected);
  });

  it('take the port the probes must use from the ConfigMap too (the container env wins)', () => {
    const withoutEnv = (t: string): string => t.replace('            - name: STATS_PORT\n              value: "8081"\n', '');
    const inConfigMap = (port: string) => (t: string) => t.replace('  LOG_LEVEL: info\n', `  LOG_LEVEL: info\n  STATS_PORT: "${port}"\n`);
    const moved = validateDeploy(mutated('k8s/base/stats.yaml', withoutEnv, [['k8s/base/configmap.yaml', inConfigMap('8090')]]));
    expect(moved.problems.join('\n')).toContain("readiness probe's port 8081 is not STATS_PORT=8090");
    expect(validateDeploy(mutated('k8s/base/stats.yaml', withoutEnv, [['k8s/base/configmap.yaml', inConfigMap('8081')]])).problems).toEqual([]);
    expect(validateDeploy(mutated('k8s/base/configmap.yaml', inConfigMap('8090'))).problems).toEqual([]);
  });

  it('require the overlays, and manifests in the base', () => {
    const root = mutated('k8s/base/namespace.yaml', (t) => `${t}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: other\n`);
    rmSync(path.join(root, 'deploy', 'k8s', 'overlays', 'dev'), { recursive: true });
    writeFileSync(path.join(root, 'deploy', 'k8s', 'extra.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: extra\n');
    const problems = validateDeploy(root).problems.join('\n');
    expect(problems).toContain('deploy/k8s/overlays/dev: missing');
    expect(problems).toContain('deploy/k8s/extra.yaml: manifests belong in deploy/k8s/base/');
  });

  it("write Dockerflow's version.json from the build args, with defaults", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'version-json-'));
    temps.push(dir);
    const write = (env: NodeJS.ProcessEnv): unknown => {
      const file = path.join(dir, 'version.json');
      const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'deploy', 'version-file.ts'), file], { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: 30_000 });
      expect(result.status, result.stderr).toBe(0);
      return JSON.parse(readFileSync(file, 'utf8'));
    };
    const args = { VERSION: '1.4.0', COMMIT: '0123456789abcdef0123456789abcdef01234567', SOURCE: 'https://example.org/telemetry', BUILD: 'https://ci.example.org/builds/42' };
    expect(write({ ...process.env, ...args })).toEqual({ source: args.SOURCE, version: args.VERSION, commit: args.COMMIT, build: args.BUILD });
    const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const defaults = write({ ...process.env, VERSION: '', COMMIT: 'unknown', SOURCE: '', BUILD: 'unknown' }) as Record<string, string>;
    expect(defaults).toMatchObject({ version: pkg.version, commit: 'unknown', build: 'unknown' });
    expect(Object.keys(defaults).sort()).toEqual(['build', 'commit', 'source', 'version']);
  });

  it('reports a file that does not parse', () => {
    const report = validateDeploy(mutated('k8s/base/namespace.yaml', (t) => `${t}\n  bad: [unclosed\n`));
    expect(report.problems.join('\n')).toMatch(/deploy\/k8s\/base\/namespace\.yaml: does not parse/);
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

  it('build the base and the overlays with `kubectl kustomize` where kubectl exists, exactly as the TypeScript build does', (context) => {
    // kustomize 4 or newer (kubectl 1.21+): older ones, such as Debian's kubernetes-client 1.20 (kustomize 2), predate `patches` and `replicas`.
    const client = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8', timeout: 10_000 });
    const kustomize = client.status === 0 ? /"kustomizeVersion":\s*"v(\d+)/.exec(client.stdout) : null;
    if (!kustomize || Number(kustomize[1]) < 4) {
      context.skip();
      return;
    }
    for (const dir of ['base', 'overlays/dev', 'overlays/prod']) {
      const full = path.join(REPO_ROOT, 'deploy', 'k8s', dir);
      const result = spawnSync('kubectl', ['kustomize', full], { encoding: 'utf8', timeout: 30_000 });
      expect(result.status, result.stderr).toBe(0);
      for (const kind of ['Namespace', 'ConfigMap', 'PersistentVolumeClaim', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'ScaledObject', 'TriggerAuthentication', 'PodDisruptionBudget']) {
        expect(result.stdout).toContain(`kind: ${kind}\n`);
      }
      expect(result.stdout).toContain('image: telemetry-pipeline:0.1.0');
      const problems: string[] = [];
      const key = (body: Record<string, unknown>): string => `${String(body.kind)}/${String((body.metadata as { name?: string } | undefined)?.name)}`;
      const ours = new Map(buildKustomization(full, REPO_ROOT, problems).map(({ body }) => [key(body), body]));
      expect(problems).toEqual([]);
      const theirs = (yaml.loadAll(result.stdout) as Record<string, unknown>[]).filter(Boolean);
      expect([...ours.keys()].sort()).toEqual(theirs.map(key).sort());
      for (const object of theirs) expect(ours.get(key(object)), `${dir}: ${key(object)}`).toStrictEqual(object);
    }
  });
});
