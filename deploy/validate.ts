/**
 * Checks the deploy files without a Docker engine or a Kubernetes cluster:
 *
 *   node --import tsx deploy/validate.ts
 *
 * Every YAML file must parse; the compose file and the manifests must have
 * the services and objects the pipeline needs (images, commands that name an
 * app's entry file that exists, probes on /ready at the port the app listens
 * on, Services and autoscalers that point at what exists); and every
 * environment variable they set must be one the app's configuration schema
 * knows (apps/<app>/src/config.ts, with the shared topology and conversion
 * variables), so a typo cannot silently fall back to a default.
 * test/deploy.test.ts runs the same checks. Prints the problems; exit 1 if any.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { topologyEnvShape } from '@telemetry/shared/amqp/topology';
import { conversionEnvShape } from '@telemetry/shared/config/domain';

export const DEPLOY_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(DEPLOY_DIR, '..');

/** js-yaml comes with the dev tooling (ESLint depends on it); only these two calls are used. */
interface Yaml {
  load(text: string): unknown;
  loadAll(text: string): unknown[];
}
const loadCommonJs = createRequire(import.meta.url);
const yaml = loadCommonJs('js-yaml') as Yaml;

export const APPS = ['gateway', 'workers', 'stats'] as const;
export type AppName = (typeof APPS)[number];

/** Variables every app reads outside its schema (shared/src/logger.ts). */
const COMMON_VARIABLES = ['LOG_LEVEL'];

/** The port variable each app listens on (and its /ready is served on). */
const READY_PORT_VARIABLE: Record<AppName, string> = { gateway: 'PORT', workers: 'METRICS_PORT', stats: 'STATS_PORT' };

/**
 * The environment variables an app's zod schema knows, read from its
 * config.ts (keys of the schema object plus the shared shapes it spreads);
 * undefined when the app has no config.ts yet.
 */
export function knownVariables(app: AppName, root = REPO_ROOT): Set<string> | undefined {
  const file = path.join(root, 'apps', app, 'src', 'config.ts');
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const names = new Set<string>(COMMON_VARIABLES);
  for (const match of text.matchAll(/^\s+([A-Z][A-Z0-9_]*)\s*:/gm)) if (match[1]) names.add(match[1]);
  if (text.includes('...topologyEnvShape')) for (const name of Object.keys(topologyEnvShape)) names.add(name);
  if (text.includes('...conversionEnvShape')) for (const name of Object.keys(conversionEnvShape)) names.add(name);
  return names;
}

type Obj = Record<string, unknown>;
const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);
const obj = (value: unknown): Obj => (isObj(value) ? value : {});
const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined);

export interface ValidationReport {
  /** Files parsed (relative to the repository). */
  readonly files: string[];
  readonly problems: string[];
  /** What the checks could not cover (e.g. an app with no config.ts yet). */
  readonly notes: string[];
}

/** Every YAML file under deploy/, relative paths. */
export function yamlFiles(dir = DEPLOY_DIR): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

/** The app an entry command runs (…/apps/<app>/src/main.ts), and whether that file exists. */
function appOfCommand(command: unknown[], root: string): { app: AppName | undefined; entry: string | undefined; exists: boolean } {
  const entry = command.map(str).find((part) => part !== undefined && /apps\/[a-z]+\/src\/main\.ts$/.test(part));
  const app = APPS.find((name) => entry?.endsWith(`apps/${name}/src/main.ts`));
  return { app, entry, exists: entry !== undefined && existsSync(path.join(root, entry)) };
}

export function validateDeploy(root = REPO_ROOT): ValidationReport {
  const deployDir = path.join(root, 'deploy');
  const problems: string[] = [];
  const notes: string[] = [];
  const files = yamlFiles(deployDir).map((file) => path.join('deploy', file));
  const docs = new Map<string, unknown[]>();
  for (const file of files) {
    try {
      docs.set(file, yaml.loadAll(readFileSync(path.join(root, file), 'utf8')).filter((doc) => doc !== null && doc !== undefined));
    } catch (error) {
      problems.push(`${file}: does not parse: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const known: Partial<Record<AppName, Set<string>>> = {};
  for (const app of APPS) {
    const names = knownVariables(app, root);
    if (names) known[app] = names;
    else notes.push(`apps/${app}/src/config.ts does not exist: its variables were not checked`);
  }
  const checkVariables = (where: string, app: AppName, names: Iterable<string>): void => {
    const allowed = known[app];
    if (!allowed) return;
    for (const name of names) if (!allowed.has(name)) problems.push(`${where}: ${name} is not a variable of the ${app} app`);
  };

  validateDockerfile(root, problems);
  validateCompose(root, docs.get('deploy/docker-compose.yml'), problems, checkVariables);
  validateKubernetes(root, docs, problems, known, checkVariables);
  return { files, problems, notes };
}

function validateDockerfile(root: string, problems: string[]): void {
  const file = path.join(root, 'deploy', 'Dockerfile');
  if (!existsSync(file)) {
    problems.push('deploy/Dockerfile is missing');
    return;
  }
  const text = readFileSync(file, 'utf8');
  for (const [needle, what] of [
    ['FROM node:20-slim', 'a node:20-slim base'],
    ['npm ci', 'npm ci'],
    ['xz-utils', 'xz-utils installed'],
    ['"--import", "tsx"', 'a command run through tsx'],
  ] as const) {
    if (!text.includes(needle)) problems.push(`deploy/Dockerfile: expected ${what} (${needle})`);
  }
}

type CheckVariables = (where: string, app: AppName, names: Iterable<string>) => void;

function validateCompose(root: string, documents: unknown[] | undefined, problems: string[], checkVariables: CheckVariables): void {
  const where = 'deploy/docker-compose.yml';
  if (!documents?.[0]) {
    problems.push(`${where}: missing or empty`);
    return;
  }
  const compose = obj(documents[0]);
  const services = obj(compose.services);
  const volumes = obj(compose.volumes);
  for (const name of ['rabbitmq', 'redis', ...APPS]) if (!isObj(services[name])) problems.push(`${where}: no service ${name}`);
  for (const [name, value] of Object.entries(services)) {
    const service = obj(value);
    const at = `${where} services.${name}`;
    if (!str(service.image)) problems.push(`${at}: no image`);
    for (const dependency of Object.keys(isObj(service.depends_on) ? service.depends_on : {})) {
      if (!isObj(services[dependency])) problems.push(`${at}: depends_on ${dependency}, which is not a service`);
    }
    for (const mount of arr(service.volumes)) {
      const source = str(mount)?.split(':')[0];
      if (source && !source.startsWith('.') && !source.startsWith('/') && !(source in volumes)) problems.push(`${at}: volume ${source} is not declared`);
    }
    if (!(APPS as readonly string[]).includes(name)) continue;
    const app = name as AppName;
    const build = obj(service.build);
    if (str(build.dockerfile) !== 'deploy/Dockerfile' || path.resolve(root, 'deploy', str(build.context) ?? '') !== root) {
      problems.push(`${at}: must build deploy/Dockerfile with the repository as context`);
    }
    const command = appOfCommand(arr(service.command), root);
    if (command.app !== app) problems.push(`${at}: command does not run apps/${app}/src/main.ts`);
    else if (!command.exists) problems.push(`${at}: ${command.entry} does not exist`);
    const environment = obj(service.environment);
    checkVariables(at, app, Object.keys(environment));
    for (const variable of ['AMQP_URL', 'REDIS_URL']) {
      const url = str(environment[variable]);
      const host = url === undefined ? undefined : /^[a-z]+:\/\/(?:[^@/]*@)?([^:/]+)/.exec(url)?.[1];
      if (host !== undefined && !isObj(services[host])) problems.push(`${at}: ${variable} names host ${host}, which is not a service`);
    }
    const port = str(environment[READY_PORT_VARIABLE[app]]);
    if (port === undefined) problems.push(`${at}: ${READY_PORT_VARIABLE[app]} is not set`);
    const healthcheck = arr(obj(service.healthcheck).test).map(str).join(' ');
    if (!healthcheck.includes(`127.0.0.1:${port}/ready`)) problems.push(`${at}: the healthcheck must ask /ready on port ${port}`);
    if (app === 'workers') {
      if (service.container_name !== undefined || service.ports !== undefined || service.hostname !== undefined) {
        problems.push(`${at}: a container name, hostname or published port would prevent --scale workers=N`);
      }
      if (!arr(service.volumes).some((mount) => str(mount)?.startsWith('storage:'))) problems.push(`${at}: must mount the shared storage volume`);
    } else if (!arr(service.ports).some((mapping) => str(mapping)?.endsWith(`:${port}`))) {
      problems.push(`${at}: no published port for ${READY_PORT_VARIABLE[app]}=${port}`);
    }
  }
}

interface Manifest {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly body: Obj;
}

function validateKubernetes(
  root: string,
  docs: Map<string, unknown[]>,
  problems: string[],
  known: Partial<Record<AppName, Set<string>>>,
  checkVariables: CheckVariables,
): void {
  const manifests: Manifest[] = [];
  let kustomization: Obj | undefined;
  for (const [file, documents] of docs) {
    if (!file.startsWith('deploy/k8s/')) continue;
    for (const document of documents) {
      const body = obj(document);
      const metadata = obj(body.metadata);
      const manifest = { file, apiVersion: str(body.apiVersion) ?? '', kind: str(body.kind) ?? '', name: str(metadata.name) ?? '', namespace: str(metadata.namespace), body };
      if (manifest.kind === 'Kustomization') {
        kustomization = body;
        continue;
      }
      if (!manifest.apiVersion || !manifest.kind || !manifest.name) problems.push(`${file}: a document without apiVersion, kind or metadata.name`);
      else if (manifest.kind !== 'Namespace' && manifest.namespace !== 'telemetry') problems.push(`${file}: ${manifest.kind} ${manifest.name} is not in namespace telemetry`);
      manifests.push(manifest);
    }
  }
  const find = (kind: string, name: string): Manifest | undefined => manifests.find((m) => m.kind === kind && m.name === name);
  const require = (kind: string, name: string): Manifest | undefined => {
    const manifest = find(kind, name);
    if (!manifest) problems.push(`deploy/k8s: no ${kind} ${name}`);
    return manifest;
  };

  // kustomization.yaml lists every manifest except the examples.
  if (!kustomization) problems.push('deploy/k8s: no kustomization.yaml');
  const resources = arr(kustomization?.resources).map(str);
  for (const resource of resources) {
    if (resource && !existsSync(path.join(root, 'deploy', 'k8s', resource))) problems.push(`deploy/k8s/kustomization.yaml: ${resource} does not exist`);
  }
  for (const file of new Set(manifests.map((m) => path.basename(m.file)))) {
    if (!file.includes('.example.') && !resources.includes(file)) problems.push(`deploy/k8s/kustomization.yaml: ${file} is not listed`);
  }

  require('Namespace', 'telemetry');
  const configMap = require('ConfigMap', 'telemetry-config');
  const configData = obj(configMap?.body.data);
  for (const key of Object.keys(configData)) {
    if (!APPS.some((app) => known[app]?.has(key) ?? false) && Object.values(known).length > 0) {
      problems.push(`deploy/k8s/configmap.yaml: ${key} is not a variable of any app`);
    }
  }
  const secret = find('Secret', 'telemetry-secrets');
  const secretKeys = new Set(Object.keys(obj(secret?.body.stringData ?? secret?.body.data)));
  if (!secret) problems.push('deploy/k8s: no example Secret telemetry-secrets (secret.example.yaml)');
  for (const name of ['rabbitmq', 'redis']) {
    const service = require('Service', name);
    if (service && !str(obj(service.body.spec).externalName)) problems.push(`deploy/k8s: Service ${name} must be an ExternalName to the server`);
  }
  for (const claim of manifests.filter((m) => m.kind === 'PersistentVolumeClaim')) {
    if (!arr(obj(claim.body.spec).accessModes).includes('ReadWriteMany')) problems.push(`${claim.file}: PVC ${claim.name} must be ReadWriteMany`);
  }

  for (const app of APPS) {
    const deployment = require('Deployment', app);
    if (!deployment) continue;
    const at = `${deployment.file} Deployment ${app}`;
    const spec = obj(deployment.body.spec);
    const template = obj(spec.template);
    const labels = obj(obj(template.metadata).labels);
    for (const [key, value] of Object.entries(obj(obj(spec.selector).matchLabels))) {
      if (labels[key] !== value) problems.push(`${at}: selector ${key}=${String(value)} does not match the pod labels`);
    }
    const podSpec = obj(template.spec);
    const containers = arr(podSpec.containers).map(obj);
    if (containers.length === 0) problems.push(`${at}: no container`);
    for (const volume of arr(podSpec.volumes).map(obj)) {
      const claimName = str(obj(volume.persistentVolumeClaim).claimName);
      if (claimName && !find('PersistentVolumeClaim', claimName)) problems.push(`${at}: PVC ${claimName} is not defined`);
    }
    for (const container of containers) {
      if (!str(container.image)) problems.push(`${at}: container without an image`);
      const command = appOfCommand([...arr(container.command), ...arr(container.args)], root);
      if (command.app !== app) problems.push(`${at}: command does not run apps/${app}/src/main.ts`);
      else if (!command.exists) problems.push(`${at}: ${command.entry} does not exist`);
      const env = arr(container.env).map(obj);
      checkVariables(at, app, env.map((entry) => str(entry.name) ?? ''));
      for (const entry of env) {
        const ref = obj(obj(entry.valueFrom).secretKeyRef);
        if (str(ref.name) === 'telemetry-secrets' && !secretKeys.has(str(ref.key) ?? '')) problems.push(`${at}: secret key ${String(ref.key)} is not in secret.example.yaml`);
      }
      for (const source of arr(container.envFrom).map(obj)) {
        const name = str(obj(source.configMapRef).name);
        if (name && !find('ConfigMap', name)) problems.push(`${at}: ConfigMap ${name} is not defined`);
      }
      const ports = arr(container.ports).map(obj);
      const portValue = str(env.find((entry) => entry.name === READY_PORT_VARIABLE[app])?.value);
      const probe = obj(obj(container.readinessProbe).httpGet);
      const probePort = ports.find((p) => p.name === probe.port || p.containerPort === probe.port);
      if (probe.path !== '/ready' || !probePort) problems.push(`${at}: the readiness probe must ask /ready on a container port`);
      else if (str(probePort.containerPort) !== portValue) {
        problems.push(`${at}: the readiness probe's port ${String(probePort.containerPort)} is not ${READY_PORT_VARIABLE[app]}=${String(portValue)}`);
      }
      for (const mount of arr(container.volumeMounts).map(obj)) {
        if (!arr(podSpec.volumes).some((volume) => obj(volume).name === mount.name)) problems.push(`${at}: volume mount ${String(mount.name)} has no volume`);
      }
    }
  }

  // Services point at pods and ports that exist.
  for (const service of manifests.filter((m) => m.kind === 'Service' && !obj(m.body.spec).externalName)) {
    const spec = obj(service.body.spec);
    const selector = obj(spec.selector);
    const target = manifests.find(
      (m) => m.kind === 'Deployment' && Object.entries(selector).every(([key, value]) => obj(obj(obj(obj(m.body.spec).template).metadata).labels)[key] === value),
    );
    if (!target || Object.keys(selector).length === 0) {
      problems.push(`${service.file}: Service ${service.name} selects no Deployment`);
      continue;
    }
    const ports = arr(obj(obj(obj(target.body.spec).template).spec).containers).flatMap((c) => arr(obj(c).ports).map(obj));
    for (const port of arr(spec.ports).map(obj)) {
      if (!ports.some((p) => p.name === port.targetPort || p.containerPort === port.targetPort)) {
        problems.push(`${service.file}: Service ${service.name} targets port ${String(port.targetPort)}, which ${target.name} does not have`);
      }
    }
  }
  for (const app of ['gateway', 'stats']) require('Service', app);

  // Autoscaling: CPU for the gateway, queue depth (KEDA) for the workers.
  const hpa = manifests.find((m) => m.kind === 'HorizontalPodAutoscaler' && obj(obj(m.body.spec).scaleTargetRef).name === 'gateway');
  if (!hpa) problems.push('deploy/k8s: no HorizontalPodAutoscaler for the gateway');
  else if (!arr(obj(hpa.body.spec).metrics).some((metric) => obj(obj(metric).resource).name === 'cpu')) problems.push(`${hpa.file}: the gateway HPA must scale on CPU`);
  const scaled = manifests.find((m) => m.kind === 'ScaledObject' && obj(obj(m.body.spec).scaleTargetRef).name === 'workers');
  if (!scaled) {
    problems.push('deploy/k8s: no KEDA ScaledObject for the workers');
  } else {
    const trigger = arr(obj(scaled.body.spec).triggers).map(obj).find((t) => t.type === 'rabbitmq');
    const metadata = obj(trigger?.metadata);
    const persistQueue = str(configData.PERSIST_QUEUE) ?? 'telemetry.persist';
    if (!trigger) problems.push(`${scaled.file}: the workers ScaledObject needs a rabbitmq trigger`);
    else {
      if (metadata.queueName !== persistQueue) problems.push(`${scaled.file}: the trigger's queueName must be PERSIST_QUEUE (${persistQueue})`);
      if (metadata.mode !== 'QueueLength' || !str(metadata.value)) problems.push(`${scaled.file}: the trigger must scale on QueueLength with a value`);
      const auth = str(obj(trigger.authenticationRef).name);
      const authentication = auth === undefined ? undefined : find('TriggerAuthentication', auth);
      if (!authentication) problems.push(`${scaled.file}: TriggerAuthentication ${String(auth)} is not defined`);
      else {
        for (const ref of arr(obj(authentication.body.spec).secretTargetRef).map(obj)) {
          if (ref.name === 'telemetry-secrets' && !secretKeys.has(str(ref.key) ?? '')) problems.push(`${authentication.file}: secret key ${String(ref.key)} is not in secret.example.yaml`);
        }
      }
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const report = validateDeploy();
  for (const note of report.notes) process.stdout.write(`note: ${note}\n`);
  for (const problem of report.problems) process.stdout.write(`problem: ${problem}\n`);
  process.stdout.write(`${report.files.length} YAML files parsed, ${report.problems.length} problems\n`);
  process.exit(report.problems.length === 0 ? 0 : 1);
}
