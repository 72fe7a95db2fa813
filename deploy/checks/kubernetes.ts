/**
 * deploy/k8s: the base (deploy/k8s/base, the files as written) and each
 * overlay (deploy/k8s/overlays/<name>, built by kustomize.ts): objects,
 * references between them, probes, variables, autoscalers, and the pod
 * hardening (securityContext, read-only root filesystem with volumes for what
 * the apps write, startup probes, resources, disruption budgets that allow a
 * drain). Overlays sit beside the base, not below it: kustomize refuses to
 * build a base that contains its overlay.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { APPS, READY_PORT_VARIABLE, appOfCommand, arr, isObj, obj, str, type AppName, type CheckVariables, type Obj } from './common.js';
import { dockerfileUser } from './dockerfile.js';
import { buildKustomization } from './kustomize.js';
import { schemaProblems } from './schemas.js';

interface Manifest {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly body: Obj;
}

const BASE = 'deploy/k8s/base';
const OVERLAYS = 'deploy/k8s/overlays';
/** The overlays that must exist, and what each must make of the base. */
const REQUIRED_OVERLAYS = ['dev', 'prod'] as const;

/** Paths the liveness and startup probes may ask: answered while the process serves, no dependency checked. */
const HEARTBEAT_PATHS: Record<AppName, readonly string[]> = {
  gateway: ['/__lbheartbeat__'],
  workers: ['/status', '/__lbheartbeat__'],
  stats: ['/status', '/__lbheartbeat__'],
};

/** Directories each app writes (variables; they must be set to a path on a writable volume, the root filesystem being read-only). */
const WRITTEN_DIRS: Record<AppName, readonly string[]> = {
  gateway: [],
  workers: ['STORAGE_DIR', 'ERRORS_DIR', 'REVISION_CACHE_DIR'],
  stats: [],
};

/** The uid:gid the pods run as when the Dockerfile names none by number (the node image's `node` user). */
const DEFAULT_USER = { uid: 1000, gid: 1000 };

export function validateKubernetes(
  root: string,
  docs: Map<string, unknown[]>,
  problems: string[],
  known: Partial<Record<AppName, Set<string>>>,
  checkVariables: CheckVariables,
): void {
  const user = dockerfileUser(root) ?? DEFAULT_USER;
  const manifests: Manifest[] = [];
  let kustomization: Obj | undefined;
  for (const [file, documents] of docs) {
    if (!file.startsWith('deploy/k8s/')) continue;
    if (file.startsWith(`${OVERLAYS}/`)) {
      // Patches are partial objects: the built overlay is what gets checked.
      if (!/^deploy\/k8s\/overlays\/[^/]+\/[^/]+$/.test(file)) problems.push(`${file}: an overlay's files sit directly in ${OVERLAYS}/<name>/`);
      continue;
    }
    if (!file.startsWith(`${BASE}/`)) {
      problems.push(`${file}: manifests belong in ${BASE}/ (and overlays in ${OVERLAYS}/<name>/): kustomize cannot build an overlay that sits below its base`);
      continue;
    }
    for (const document of documents) {
      problems.push(...schemaProblems(file, document));
      const manifest = toManifest(file, document);
      if (manifest.kind === 'Kustomization') {
        kustomization = manifest.body;
        continue;
      }
      if (!manifest.apiVersion || !manifest.kind || !manifest.name) problems.push(`${file}: a document without apiVersion, kind or metadata.name`);
      manifests.push(manifest);
    }
  }

  // The base's kustomization.yaml lists every manifest except the examples.
  if (!kustomization) problems.push(`${BASE}: no kustomization.yaml`);
  const resources = arr(kustomization?.resources).map(str);
  for (const resource of resources) {
    if (resource && !existsSync(path.join(root, BASE, resource))) problems.push(`${BASE}/kustomization.yaml: ${resource} does not exist`);
  }
  for (const file of new Set(manifests.map((m) => path.relative(BASE, m.file)))) {
    if (!file.includes('.example.') && !resources.includes(file)) problems.push(`${BASE}/kustomization.yaml: ${file} is not listed`);
  }
  // The example Secret is not applied, but the apps' references to it are checked against it.
  const secret = manifests.find((m) => m.kind === 'Secret' && m.name === 'telemetry-secrets');
  if (!secret) problems.push(`${BASE}: no example Secret telemetry-secrets (secret.example.yaml)`);
  const secretKeys = new Set(Object.keys(obj(secret?.body.stringData ?? secret?.body.data)));
  validateObjects({ root, label: BASE, manifests, problems, known, checkVariables, secretKeys, user });

  // The overlays, built.
  const overlayDir = path.join(root, OVERLAYS);
  const overlays = existsSync(overlayDir)
    ? readdirSync(overlayDir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name)
        .sort()
    : [];
  for (const name of REQUIRED_OVERLAYS) if (!overlays.includes(name)) problems.push(`${OVERLAYS}/${name}: missing (the ${name} overlay)`);
  const applied = manifests.filter((m) => resources.includes(path.relative(BASE, m.file)));
  for (const name of overlays) {
    const label = `${OVERLAYS}/${name}`;
    const built = buildKustomization(path.join(overlayDir, name), root, problems).map(({ body }) => {
      problems.push(...schemaProblems(`${label} (built)`, body));
      return toManifest(label, body);
    });
    for (const base of applied) {
      if (!built.some((m) => m.kind === base.kind && m.name === base.name)) problems.push(`${label}: ${base.kind} ${base.name} of the base is missing from the build`);
    }
    validateObjects({ root, label, manifests: built, problems, known, checkVariables, secretKeys, user });
    if (name === 'dev') validateDevOverlay(label, built, problems);
    if (name === 'prod') validateProdOverlay(label, built, applied, problems);
  }
}

function toManifest(file: string, document: unknown): Manifest {
  const body = obj(document);
  const metadata = obj(body.metadata);
  return { file, apiVersion: str(body.apiVersion) ?? '', kind: str(body.kind) ?? '', name: str(metadata.name) ?? '', namespace: str(metadata.namespace), body };
}

interface ObjectsContext {
  readonly root: string;
  /** deploy/k8s/base, or the overlay's directory. */
  readonly label: string;
  readonly manifests: Manifest[];
  readonly problems: string[];
  readonly known: Partial<Record<AppName, Set<string>>>;
  readonly checkVariables: CheckVariables;
  readonly secretKeys: Set<string>;
  readonly user: { uid: number; gid: number };
}

/** The checks of one set of objects: the base's files, or an overlay's build. */
function validateObjects(context: ObjectsContext): void {
  const { root, label, manifests, problems, known, checkVariables, secretKeys } = context;
  const find = (kind: string, name: string): Manifest | undefined => manifests.find((m) => m.kind === kind && m.name === name);
  const require = (kind: string, name: string): Manifest | undefined => {
    const manifest = find(kind, name);
    if (!manifest) problems.push(`${label}: no ${kind} ${name}`);
    return manifest;
  };
  for (const manifest of manifests) {
    if (manifest.kind !== 'Namespace' && manifest.namespace !== 'telemetry') problems.push(`${manifest.file}: ${manifest.kind} ${manifest.name} is not in namespace telemetry`);
  }

  require('Namespace', 'telemetry');
  const configMap = require('ConfigMap', 'telemetry-config');
  const configData = obj(configMap?.body.data);
  for (const key of Object.keys(configData)) {
    if (!APPS.some((app) => known[app]?.has(key) ?? false) && Object.values(known).length > 0) {
      problems.push(`${configMap?.file ?? label}: ${key} is not a variable of any app`);
    }
  }
  for (const name of ['rabbitmq', 'redis']) {
    const service = require('Service', name);
    if (service && !str(obj(service.body.spec).externalName)) problems.push(`${label}: Service ${name} must be an ExternalName to the server`);
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
      const values = effectiveEnv(container, manifests);
      validateProbes(at, app, container, values, problems);
      for (const mount of arr(container.volumeMounts).map(obj)) {
        if (!arr(podSpec.volumes).some((volume) => obj(volume).name === mount.name)) problems.push(`${at}: volume mount ${String(mount.name)} has no volume`);
      }
      validateWrites(at, app, container, podSpec, values, problems);
    }
  }

  validatePodPolicies(manifests, problems, context.user);

  // Services point at pods and ports that exist.
  for (const service of manifests.filter((m) => m.kind === 'Service' && !obj(m.body.spec).externalName)) {
    const spec = obj(service.body.spec);
    const selector = obj(spec.selector);
    const target = manifests.find((m) => m.kind === 'Deployment' && Object.entries(selector).every(([key, value]) => podLabels(m)[key] === value));
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
  const hpa = gatewayAutoscaler(manifests);
  if (!hpa) problems.push(`${label}: no HorizontalPodAutoscaler for the gateway`);
  else if (!arr(obj(hpa.body.spec).metrics).some((metric) => obj(obj(metric).resource).name === 'cpu')) problems.push(`${hpa.file}: the gateway HPA must scale on CPU`);
  const scaled = workersScaler(manifests);
  if (!scaled) {
    problems.push(`${label}: no KEDA ScaledObject for the workers`);
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

/** The variables a container sees (literal values only): its ConfigMaps' data, then its own env, which wins. */
function effectiveEnv(container: Obj, manifests: Manifest[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const source of arr(container.envFrom).map(obj)) {
    const name = str(obj(source.configMapRef).name);
    const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.name === name);
    for (const [key, value] of Object.entries(obj(configMap?.body.data))) {
      const text = str(value);
      if (text !== undefined) values.set(key, text);
    }
  }
  for (const entry of arr(container.env).map(obj)) {
    const name = str(entry.name);
    const value = str(entry.value);
    if (name !== undefined && value !== undefined) values.set(name, value);
    else if (name !== undefined) values.delete(name);
  }
  return values;
}

/**
 * Startup, readiness and liveness probes: HTTP, on the container port the app
 * listens on (its port variable, from the ConfigMap or the container's env),
 * /ready for readiness, a heartbeat path (no dependency checked) for startup
 * and liveness.
 */
function validateProbes(at: string, app: AppName, container: Obj, values: Map<string, string>, problems: string[]): void {
  const variable = READY_PORT_VARIABLE[app];
  const portValue = values.get(variable);
  if (portValue === undefined || portValue === '0') problems.push(`${at}: ${variable} is not set (in the ConfigMap or the container's env): the probes have no port`);
  const ports = arr(container.ports).map(obj);
  const probes: [string, readonly string[]][] = [
    ['readinessProbe', ['/ready']],
    ['startupProbe', HEARTBEAT_PATHS[app]],
    ['livenessProbe', HEARTBEAT_PATHS[app]],
  ];
  for (const [field, paths] of probes) {
    const what = field.replace('Probe', ' probe');
    const probe = container[field];
    if (!isObj(probe)) {
      // (A missing liveness probe is reported with the pod policies, for every Deployment.)
      if (field !== 'livenessProbe') problems.push(`${at}: container ${String(container.name)} has no ${what}`);
      continue;
    }
    const httpGet = obj(probe.httpGet);
    const probePort = ports.find((p) => p.name === httpGet.port || p.containerPort === httpGet.port);
    if (!paths.includes(str(httpGet.path) ?? '') || !probePort) {
      problems.push(`${at}: the ${what} must ask ${paths.join(' or ')} on a container port`);
    } else if (portValue !== undefined && str(probePort.containerPort) !== portValue) {
      problems.push(`${at}: the ${what}'s port ${String(probePort.containerPort)} is not ${variable}=${portValue}`);
    }
  }
}

/** Is `dir` (absolute) on the mount at `mountPath`? */
const under = (dir: string, mountPath: string): boolean => dir === mountPath || dir.startsWith(mountPath.endsWith('/') ? mountPath : `${mountPath}/`);

/**
 * With a read-only root filesystem, everything the app writes must be a
 * writable volume: /tmp an emptyDir (tsx's cache, os.tmpdir()), and each
 * directory the app writes set to an absolute path on a writable mount.
 */
function validateWrites(at: string, app: AppName, container: Obj, podSpec: Obj, values: Map<string, string>, problems: string[]): void {
  const mounts = arr(container.volumeMounts).map(obj);
  const volumes = arr(podSpec.volumes).map(obj);
  const writable = mounts.filter((mount) => mount.readOnly !== true).map((mount) => str(mount.mountPath) ?? '');
  const tmp = mounts.find((mount) => mount.mountPath === '/tmp');
  const tmpVolume = volumes.find((volume) => volume.name === tmp?.name);
  if (!tmp || tmp.readOnly === true || !isObj(tmpVolume?.emptyDir)) {
    problems.push(`${at}: container ${String(container.name)} needs a writable emptyDir volume at /tmp (the root filesystem is read-only)`);
  }
  for (const variable of WRITTEN_DIRS[app]) {
    const dir = values.get(variable);
    if (dir === undefined || !path.posix.isAbsolute(dir)) {
      problems.push(`${at}: ${variable} must be set to an absolute path on a writable volume (the root filesystem is read-only; got ${dir ?? 'the default'})`);
    } else if (!writable.some((mountPath) => under(path.posix.normalize(dir), mountPath))) {
      problems.push(`${at}: ${variable}=${dir} is not on a writable volume mount (the root filesystem is read-only)`);
    }
  }
}

/** Pod labels of a Deployment's template. */
const podLabels = (deployment: Manifest): Obj => obj(obj(obj(obj(deployment.body.spec).template).metadata).labels);

const gatewayAutoscaler = (manifests: Manifest[]): Manifest | undefined =>
  manifests.find((m) => m.kind === 'HorizontalPodAutoscaler' && obj(obj(m.body.spec).scaleTargetRef).name === 'gateway');
const workersScaler = (manifests: Manifest[]): Manifest | undefined =>
  manifests.find((m) => m.kind === 'ScaledObject' && obj(obj(m.body.spec).scaleTargetRef).name === 'workers');

/** The fewest pods a Deployment runs: its autoscaler's minimum, else its replicas (default 1). */
function minimumReplicas(deployment: Manifest, manifests: Manifest[]): number {
  const hpa = manifests.find((m) => m.kind === 'HorizontalPodAutoscaler' && obj(obj(m.body.spec).scaleTargetRef).name === deployment.name);
  const scaled = manifests.find((m) => m.kind === 'ScaledObject' && obj(obj(m.body.spec).scaleTargetRef).name === deployment.name);
  const value = hpa ? obj(hpa.body.spec).minReplicas : scaled ? obj(scaled.body.spec).minReplicaCount : obj(deployment.body.spec).replicas;
  return typeof value === 'number' ? value : 1;
}

/** The most pods a Deployment runs: its autoscaler's maximum, else its replicas. */
function maximumReplicas(deployment: Manifest, manifests: Manifest[]): number {
  const hpa = manifests.find((m) => m.kind === 'HorizontalPodAutoscaler' && obj(obj(m.body.spec).scaleTargetRef).name === deployment.name);
  const scaled = manifests.find((m) => m.kind === 'ScaledObject' && obj(obj(m.body.spec).scaleTargetRef).name === deployment.name);
  const value = hpa ? obj(hpa.body.spec).maxReplicas : scaled ? obj(scaled.body.spec).maxReplicaCount : obj(deployment.body.spec).replicas;
  return typeof value === 'number' ? value : 1;
}

/** A Kubernetes quantity ("500m", "1", "512Mi", "1Gi") as a number (cores or bytes); undefined when it is not one. */
function quantity(value: unknown): number | undefined {
  const text = str(value);
  const match = text === undefined ? null : /^(\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(text);
  if (!match) return undefined;
  const factors: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  return Number(match[1]) * (match[2] === undefined ? 1 : (factors[match[2]] ?? 1));
}

const SECCOMP_RUNTIME_DEFAULT = (context: unknown): boolean => obj(obj(context).seccompProfile).type === 'RuntimeDefault';

/**
 * The pod's securityContext: non-root with the image's fixed uid:gid, seccomp
 * RuntimeDefault, no host namespaces. Each container's: the same user, a
 * read-only root filesystem, no privilege escalation, every capability dropped.
 */
function validateSecurity(at: string, podSpec: Obj, user: { uid: number; gid: number }, problems: string[]): void {
  const pod = obj(podSpec.securityContext);
  if (!isObj(podSpec.securityContext)) problems.push(`${at}: the pod has no securityContext`);
  const identity = (where: string, context: Obj): void => {
    if (context.runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot must be true`);
    if (context.runAsUser !== user.uid || context.runAsGroup !== user.gid) {
      problems.push(`${where}: runAsUser/runAsGroup must be the image's non-root user ${user.uid}:${user.gid} (deploy/Dockerfile USER), not ${String(context.runAsUser)}:${String(context.runAsGroup)}`);
    }
    if (!SECCOMP_RUNTIME_DEFAULT(context)) problems.push(`${where}: seccompProfile must be RuntimeDefault`);
  };
  identity(`${at} pod securityContext`, pod);
  for (const flag of ['hostNetwork', 'hostPID', 'hostIPC']) if (podSpec[flag] === true) problems.push(`${at}: ${flag} must not be set`);
  for (const container of [...arr(podSpec.initContainers), ...arr(podSpec.containers)].map(obj)) {
    const where = `${at}: container ${String(container.name)} securityContext`;
    if (!isObj(container.securityContext)) {
      problems.push(`${at}: container ${String(container.name)} has no securityContext`);
      continue;
    }
    const context = container.securityContext;
    identity(where, context);
    if (context.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`);
    if (context.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
    if (context.privileged === true) problems.push(`${where}: privileged must not be true`);
    const capabilities = obj(context.capabilities);
    if (!arr(capabilities.drop).includes('ALL')) problems.push(`${where}: capabilities must drop ALL`);
    if (arr(capabilities.add).length > 0) problems.push(`${where}: capabilities must add none`);
  }
}

/**
 * What keeps a rollout or a node drain from losing work, and a pod from
 * doing more than it must: a grace period, hardening, resource requests and
 * limits (cpu and memory, request ≤ limit) on every container, and a
 * PodDisruptionBudget selecting each Deployment's pods that still lets one go.
 */
function validatePodPolicies(manifests: Manifest[], problems: string[], user: { uid: number; gid: number }): void {
  const budgets = manifests.filter((m) => m.kind === 'PodDisruptionBudget');
  for (const deployment of manifests.filter((m) => m.kind === 'Deployment')) {
    const at = `${deployment.file} Deployment ${deployment.name}`;
    const podSpec = obj(obj(obj(deployment.body.spec).template).spec);
    if (typeof podSpec.terminationGracePeriodSeconds !== 'number') problems.push(`${at}: no terminationGracePeriodSeconds (the drain needs one)`);
    validateSecurity(at, podSpec, user, problems);
    for (const container of [...arr(podSpec.initContainers), ...arr(podSpec.containers)].map(obj)) {
      if (!isObj(container.livenessProbe)) problems.push(`${at}: container ${String(container.name)} has no liveness probe`);
      const resources = obj(container.resources);
      if (!isObj(resources.requests) || !isObj(resources.limits)) {
        problems.push(`${at}: container ${String(container.name)} needs resource requests and limits`);
        continue;
      }
      for (const resource of ['cpu', 'memory']) {
        const request = quantity(resources.requests[resource]);
        const limit = quantity(resources.limits[resource]);
        if (request === undefined || limit === undefined) problems.push(`${at}: container ${String(container.name)} needs a ${resource} request and limit (Kubernetes quantities)`);
        else if (request > limit) problems.push(`${at}: container ${String(container.name)} requests more ${resource} than its limit`);
      }
    }
    const labels = podLabels(deployment);
    const budget = budgets.find((pdb) => {
      const selector = obj(obj(pdb.body.spec).selector).matchLabels;
      return isObj(selector) && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
    });
    if (!budget) {
      problems.push(`${at}: no PodDisruptionBudget selects its pods`);
      continue;
    }
    const spec = obj(budget.body.spec);
    const fewest = minimumReplicas(deployment, manifests);
    const blocks = typeof spec.minAvailable === 'number' ? spec.minAvailable >= fewest : spec.maxUnavailable === 0 || spec.maxUnavailable === '0%';
    if (blocks) problems.push(`${budget.file}: PodDisruptionBudget ${budget.name} lets no pod of ${deployment.name} go at ${fewest} replica(s): node drains would block`);
  }
}

/** dev: one replica of each app, autoscalers included. */
function validateDevOverlay(label: string, built: Manifest[], problems: string[]): void {
  for (const app of APPS) {
    const deployment = built.find((m) => m.kind === 'Deployment' && m.name === app);
    if (!deployment) continue;
    const replicas = obj(deployment.body.spec).replicas;
    const fewest = minimumReplicas(deployment, built);
    const most = maximumReplicas(deployment, built);
    if (replicas !== 1 || fewest !== 1 || most !== 1) {
      problems.push(`${label}: Deployment ${app} must run one replica (replicas ${String(replicas)}, autoscaled ${fewest}–${most})`);
    }
  }
}

/** prod: more replicas than the base (its autoscalers' minimum too) and larger limits. */
function validateProdOverlay(label: string, built: Manifest[], base: Manifest[], problems: string[]): void {
  for (const app of APPS) {
    const deployment = built.find((m) => m.kind === 'Deployment' && m.name === app);
    const original = base.find((m) => m.kind === 'Deployment' && m.name === app);
    if (!deployment || !original) continue;
    const replicas = Number(obj(deployment.body.spec).replicas ?? 1);
    const baseReplicas = Number(obj(original.body.spec).replicas ?? 1);
    if (replicas <= baseReplicas || minimumReplicas(deployment, built) <= minimumReplicas(original, base)) {
      problems.push(
        `${label}: Deployment ${app} must run more replicas than the base (replicas ${replicas} vs ${baseReplicas}, at least ${minimumReplicas(deployment, built)} vs ${minimumReplicas(original, base)})`,
      );
    }
    const containers = (m: Manifest): Obj[] => arr(obj(obj(obj(m.body.spec).template).spec).containers).map(obj);
    for (const container of containers(deployment)) {
      const before = containers(original).find((c) => c.name === container.name);
      const limits = obj(obj(container.resources).limits);
      const baseLimits = obj(obj(before?.resources).limits);
      const compared = ['cpu', 'memory'].map((resource) => [quantity(limits[resource]) ?? 0, quantity(baseLimits[resource]) ?? 0] as const);
      if (compared.some(([now, then]) => now < then) || !compared.some(([now, then]) => now > then)) {
        problems.push(`${label}: Deployment ${app} container ${String(container.name)} must have larger limits than the base (cpu and memory at least as large, one larger)`);
      }
    }
  }
}
