/**
 * Writes Dockerflow's version.json (https://github.com/mozilla-services/Dockerflow):
 * `{"source", "version", "commit", "build"}`, which the apps serve on
 * /__version__ (VERSION_FILE, default `version.json` in the working directory).
 * deploy/Dockerfile runs it at image build with its build args:
 *
 *   node --import tsx deploy/version-file.ts /app/version.json
 *
 * from the environment: VERSION (default: package.json's version), COMMIT
 * (default "unknown"), SOURCE (default: package.json's repository or homepage,
 * else "unknown"), BUILD (the CI build's URL or id; default "unknown").
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface VersionJson {
  readonly source: string;
  readonly version: string;
  readonly commit: string;
  readonly build: string;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface PackageJson {
  readonly version?: unknown;
  readonly repository?: unknown;
  readonly homepage?: unknown;
}

function versionJson(env: NodeJS.ProcessEnv, root = REPO_ROOT): VersionJson {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as PackageJson;
  const repository = typeof pkg.repository === 'object' && pkg.repository !== null ? (pkg.repository as { url?: unknown }).url : pkg.repository;
  const given = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  return {
    source: given('SOURCE') ?? [repository, pkg.homepage].find((value): value is string => typeof value === 'string') ?? 'unknown',
    version: given('VERSION') ?? (typeof pkg.version === 'string' ? pkg.version : 'unknown'),
    commit: given('COMMIT') ?? 'unknown',
    build: given('BUILD') ?? 'unknown',
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node --import tsx deploy/version-file.ts FILE\n');
    process.exit(2);
  }
  const text = `${JSON.stringify(versionJson(process.env), null, 2)}\n`;
  writeFileSync(file, text, { mode: 0o644 });
  process.stdout.write(text);
}
