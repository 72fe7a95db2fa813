/**
 * A kustomize build in TypeScript, for the subset deploy/k8s uses, so the
 * overlays are validated on a machine without kustomize or kubectl (Debian
 * packages neither). test/deploy.test.ts compares its output with
 * `kubectl kustomize` wherever kubectl exists, so the two cannot drift apart.
 *
 * Supported kustomization fields: resources (files, and directories holding a
 * kustomization), namespace, images (newName, newTag, digest), replicas, and
 * patches given by `path` or inline `patch` that are strategic-merge patches
 * naming their target by kind and metadata.name (no `target` selector, no
 * JSON 6902). Strategic merge: maps merge, a null deletes the key, the lists
 * of built-in kinds that Kubernetes merges by key (containers and
 * initContainers by name, env by name, volumes by name, volumeMounts by
 * mountPath, container ports by containerPort, Service ports by port) merge
 * item by item, every other list is replaced; custom resources (KEDA's) merge
 * as JSON merge patches (maps merge, lists replaced), as kustomize does
 * without their schema. Anything else (another field, a `$patch` directive,
 * a patch that matches no object) is a problem, never silently ignored.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { arr, isObj, obj, str, type Obj } from './common.js';

interface Yaml {
  loadAll(text: string): unknown[];
}
const yaml = createRequire(import.meta.url)('js-yaml') as Yaml;

export interface BuiltObject {
  /** The resource file the object came from, relative to the repository. */
  readonly source: string;
  readonly body: Obj;
}

const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'replicas', 'patches']);
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** Built-in API groups: their objects merge lists by key; anything else is a custom resource. */
const BUILT_IN_GROUP = /^(v1|(apps|batch|policy|autoscaling|networking\.k8s\.io|rbac\.authorization\.k8s\.io|storage\.k8s\.io)\/[a-z0-9]+)$/;

/** The merge key of a list field of a built-in kind, given its items (ports differ between containers and Services). */
function mergeKey(field: string, items: unknown[]): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'ports':
      return items.some((item) => isObj(item) && 'containerPort' in item) ? 'containerPort' : 'port';
    default:
      return undefined;
  }
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * `patch` merged into `target` (neither is modified). Patch list items come
 * first, then the target's items the patch does not name: kustomize's order.
 */
function strategicMerge(target: unknown, patch: unknown, builtIn: boolean, where: string, problems: string[]): unknown {
  if (!isObj(patch)) return clone(patch);
  const result: Obj = isObj(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) {
      problems.push(`${where}: the patch directive ${key} is not supported by the TypeScript kustomize build`);
      continue;
    }
    if (value === null) {
      delete result[key];
      continue;
    }
    const current = result[key];
    const items: unknown[] | undefined = Array.isArray(value) ? (value as unknown[]) : undefined;
    const mergeBy = builtIn && items ? mergeKey(key, [...items, ...arr(current)]) : undefined;
    if (items && mergeBy !== undefined && Array.isArray(current)) {
      const merged: unknown[] = [];
      const named = new Set<string>();
      for (const item of items) {
        const id = str(obj(item)[mergeBy]);
        if (id === undefined) {
          problems.push(`${where}: an item of ${key} without its merge key ${mergeBy}`);
          continue;
        }
        named.add(id);
        const existing: unknown = (current as unknown[]).find((entry) => str(obj(entry)[mergeBy]) === id);
        merged.push(existing === undefined ? clone(item) : strategicMerge(existing, item, builtIn, `${where}.${key}[${id}]`, problems));
      }
      for (const entry of current as unknown[]) if (!named.has(str(obj(entry)[mergeBy]) ?? '')) merged.push(clone(entry));
      result[key] = merged;
    } else if (isObj(value) && isObj(current)) {
      result[key] = strategicMerge(current, value, builtIn, `${where}.${key}`, problems);
    } else {
      result[key] = clone(value);
    }
  }
  return result;
}

function kustomizationFile(dir: string): string | undefined {
  return KUSTOMIZATION_FILES.map((name) => path.join(dir, name)).find((file) => existsSync(file));
}

function loadDocuments(file: string, root: string, problems: string[]): Obj[] {
  try {
    return yaml
      .loadAll(readFileSync(file, 'utf8'))
      .filter((doc) => doc !== null && doc !== undefined)
      .map(obj);
  } catch (error) {
    problems.push(`${path.relative(root, file)}: does not parse: ${error instanceof Error ? error.message : String(error)}`);
    return [];
  }
}

const nameOf = (body: Obj): string => str(obj(body.metadata).name) ?? '';

/** Objects of the kustomization in `dir` (absolute), built; problems name what could not be built. */
export function buildKustomization(dir: string, root: string, problems: string[], seen: string[] = []): BuiltObject[] {
  const rel = (file: string): string => path.relative(root, file) || '.';
  const file = kustomizationFile(dir);
  if (!file) {
    problems.push(`${rel(dir)}: no kustomization.yaml`);
    return [];
  }
  if (seen.some((visited) => visited.startsWith(dir + path.sep) || visited === dir)) {
    problems.push(`${rel(dir)}: a cycle: this directory contains a kustomization it builds (kustomize refuses it)`);
    return [];
  }
  const kustomization = loadDocuments(file, root, problems)[0] ?? {};
  const where = rel(file);
  for (const key of Object.keys(kustomization)) {
    if (!SUPPORTED_FIELDS.has(key)) problems.push(`${where}: ${key} is not supported by the TypeScript kustomize build (deploy/checks/kustomize.ts)`);
  }

  const objects: BuiltObject[] = [];
  for (const entry of arr(kustomization.resources).map(str)) {
    if (entry === undefined) continue;
    const resource = path.resolve(dir, entry);
    if (!existsSync(resource)) {
      problems.push(`${where}: resource ${entry} does not exist`);
    } else if (statSync(resource).isDirectory()) {
      objects.push(...buildKustomization(resource, root, problems, [...seen, dir]));
    } else {
      if (path.relative(dir, resource).startsWith('..')) problems.push(`${where}: ${entry} is outside the kustomization's directory (kustomize refuses to load it)`);
      for (const body of loadDocuments(resource, root, problems)) objects.push({ source: rel(resource), body });
    }
  }

  for (const [index, entry] of arr(kustomization.patches).map(obj).entries()) {
    const at = `${where} patches[${index}]`;
    if (entry.target !== undefined) problems.push(`${at}: a target selector is not supported by the TypeScript kustomize build`);
    const patchPath = str(entry.path);
    const documents =
      patchPath !== undefined
        ? loadDocuments(path.resolve(dir, patchPath), root, problems)
        : typeof entry.patch === 'string'
          ? yaml.loadAll(entry.patch).filter(isObj)
          : [];
    if (documents.length === 0) problems.push(`${at}: no patch (path or patch)`);
    for (const patch of documents) {
      const kind = str(patch.kind);
      const name = nameOf(patch);
      const index = objects.findIndex((candidate) => str(candidate.body.kind) === kind && nameOf(candidate.body) === name);
      const target = objects[index];
      if (!target) {
        problems.push(`${at}: the patch of ${String(kind)} ${name} matches no object`);
        continue;
      }
      if (str(patch.apiVersion) !== undefined && str(patch.apiVersion) !== str(target.body.apiVersion)) {
        problems.push(`${at}: the patch of ${String(kind)} ${name} has apiVersion ${String(patch.apiVersion)}, the object ${String(target.body.apiVersion)}`);
      }
      const builtIn = BUILT_IN_GROUP.test(str(target.body.apiVersion) ?? '');
      objects[index] = { source: target.source, body: obj(strategicMerge(target.body, patch, builtIn, `${at} ${String(kind)} ${name}`, problems)) };
    }
  }

  const namespace = str(kustomization.namespace);
  if (namespace !== undefined) {
    for (const object of objects) {
      if (object.body.kind !== 'Namespace') object.body.metadata = { ...obj(object.body.metadata), namespace };
    }
  }

  for (const [index, entry] of arr(kustomization.replicas).map(obj).entries()) {
    const name = str(entry.name);
    const count = entry.count;
    const targets = objects.filter((object) => ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(str(object.body.kind) ?? '') && nameOf(object.body) === name);
    if (typeof count !== 'number' || targets.length === 0) problems.push(`${where} replicas[${index}]: ${String(name)} names no Deployment (or has no count)`);
    for (const target of targets) target.body.spec = { ...obj(target.body.spec), replicas: count };
  }

  for (const image of arr(kustomization.images).map(obj)) {
    const name = str(image.name);
    for (const object of objects) {
      const podSpec = obj(obj(obj(object.body.spec).template).spec);
      for (const container of [...arr(podSpec.containers), ...arr(podSpec.initContainers)].map(obj)) {
        const current = str(container.image);
        if (current === undefined || name === undefined) continue;
        const match = /^(.*?)(?::([^:/@]+))?(?:@(.+))?$/.exec(current);
        if (match?.[1] !== name) continue;
        const newName = str(image.newName) ?? name;
        const digest = str(image.digest);
        const tag = str(image.newTag) ?? match[2];
        container.image = digest !== undefined ? `${newName}@${digest}` : tag !== undefined ? `${newName}:${tag}` : newName;
      }
    }
  }
  return objects;
}
