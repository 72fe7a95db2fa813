/** deploy/k8s: objects, references between them, probes, variables, autoscalers. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { APPS, READY_PORT_VARIABLE, appOfCommand, arr, isObj, obj, str, type AppName, type CheckVariables, type Obj } from './common.js';
import { schemaProblems } from './schemas.js';

interface Manifest {
  readonly file: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly body: Obj;
}

export function validateKubernetes(
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
      problems.push(...schemaProblems(file, document));
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

  validatePodPolicies(manifests, problems);

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

/** Pod labels of a Deployment's template. */
const podLabels = (deployment: Manifest): Obj => obj(obj(obj(obj(deployment.body.spec).template).metadata).labels);

/**
 * What keeps a rollout or a node drain from losing work: a grace period, a
 * liveness probe and resources on every pod, and a PodDisruptionBudget
 * selecting each Deployment's pods.
 */
function validatePodPolicies(manifests: Manifest[], problems: string[]): void {
  const budgets = manifests.filter((m) => m.kind === 'PodDisruptionBudget');
  for (const deployment of manifests.filter((m) => m.kind === 'Deployment')) {
    const at = `${deployment.file} Deployment ${deployment.name}`;
    const podSpec = obj(obj(obj(deployment.body.spec).template).spec);
    if (typeof podSpec.terminationGracePeriodSeconds !== 'number') problems.push(`${at}: no terminationGracePeriodSeconds (the drain needs one)`);
    for (const container of arr(podSpec.containers).map(obj)) {
      if (!isObj(container.livenessProbe)) problems.push(`${at}: container ${String(container.name)} has no liveness probe`);
      const resources = obj(container.resources);
      if (!isObj(resources.requests) || !isObj(resources.limits)) problems.push(`${at}: container ${String(container.name)} needs resource requests and limits`);
    }
    const labels = podLabels(deployment);
    const budget = budgets.find((pdb) => {
      const selector = obj(obj(pdb.body.spec).selector).matchLabels;
      return isObj(selector) && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels[key] === value);
    });
    if (!budget) problems.push(`${at}: no PodDisruptionBudget selects its pods`);
  }
}
