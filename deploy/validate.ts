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
 * knows (apps/<app>/src/config.ts, with the shared topology, conversion and ops
 * variables), so a typo cannot silently fall back to a default.
 * test/deploy.test.ts runs the same checks. Prints the problems; exit 1 if any.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { topologyEnvShape } from '@telemetry/shared/amqp/topology';
import { counterStoreEnvShape } from '@telemetry/shared/stats/store-config';
import { conversionEnvShape } from '@telemetry/shared/config/domain';
import { opsEnvShape } from '@telemetry/shared/config/ops';
import { APPS, type AppName } from './checks/common.js';
import { validateCompose } from './checks/compose.js';
import { validateDockerfile } from './checks/dockerfile.js';
import { validateKubernetes } from './checks/kubernetes.js';

export { APPS, type AppName } from './checks/common.js';

const DEPLOY_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(DEPLOY_DIR, '..');

/** js-yaml comes with the dev tooling (ESLint depends on it); only these two calls are used. */
interface Yaml {
  load(text: string): unknown;
  loadAll(text: string): unknown[];
}
const loadCommonJs = createRequire(import.meta.url);
const yaml = loadCommonJs('js-yaml') as Yaml;

/** Variables every app reads outside its schema: the log level (shared/src/logger.ts) and Node's own options. */
const COMMON_VARIABLES = ['LOG_LEVEL', 'NODE_OPTIONS'];

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
  if (text.includes('...opsEnvShape')) for (const name of Object.keys(opsEnvShape)) names.add(name);
  if (text.includes('...counterStoreEnvShape')) for (const name of Object.keys(counterStoreEnvShape)) names.add(name);
  return names;
}

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
  validateCompose(root, docs.get('deploy/compose.yaml'), problems, checkVariables);
  validateKubernetes(root, docs, problems, known, checkVariables);
  return { files, problems, notes };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const report = validateDeploy();
  for (const note of report.notes) process.stdout.write(`note: ${note}\n`);
  for (const problem of report.problems) process.stdout.write(`problem: ${problem}\n`);
  process.stdout.write(`${report.files.length} YAML files parsed, ${report.problems.length} problems\n`);
  process.exit(report.problems.length === 0 ? 0 : 1);
}
