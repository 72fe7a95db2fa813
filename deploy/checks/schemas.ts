/**
 * Schema validation of the Kubernetes manifests, without a cluster: each
 * object is checked against the JSON schema of its kind from the OpenAPI
 * definitions of Kubernetes (npm `kubernetes-models`) and KEDA
 * (`@kubernetes-models/keda`): types, required fields, enums and formats, as
 * kubeconform does without -strict. Unknown fields are not reported (those
 * schemas allow them); the checks in kubernetes.ts look for the fields that
 * matter by name, so a misspelt probe or grace period is caught there.
 */
import { createRequire } from 'node:module';
import { obj, str, type Obj } from './common.js';

interface ValidatableModel {
  validate(): void;
}
type ModelClass = new (data: Obj) => ValidatableModel;

const load = createRequire(import.meta.url);

/** The package module of a kind: `apps/v1` + `Deployment` → kubernetes-models/apps/v1/Deployment. */
function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion.startsWith('keda.sh/')) return `@kubernetes-models/keda/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function modelClass(apiVersion: string, kind: string): ModelClass | undefined {
  try {
    const exported = load(modelModule(apiVersion, kind)) as Record<string, unknown>;
    const model = exported[kind];
    return typeof model === 'function' ? (model as ModelClass) : undefined;
  } catch {
    return undefined;
  }
}

/** Problems of one manifest against its kind's schema; a kind without a schema is a problem too. */
export function schemaProblems(where: string, manifest: unknown): string[] {
  const body = obj(manifest);
  const apiVersion = str(body.apiVersion) ?? '';
  const kind = str(body.kind) ?? '';
  if (kind === 'Kustomization') return [];
  const Model = modelClass(apiVersion, kind);
  if (!Model) return [`${where}: no schema for ${apiVersion} ${kind} (unknown apiVersion or kind)`];
  try {
    new Model(body).validate();
    return [];
  } catch (error) {
    return [`${where}: ${apiVersion} ${kind} ${str(obj(body.metadata).name) ?? ''} fails its schema: ${error instanceof Error ? error.message : String(error)}`];
  }
}
