/**
 * The operations variables every app reads (its metrics port's address, the
 * version file, the heartbeat's check timeout) and the version it reports on
 * /__version__ and in telemetry_build_info. METRICS_PORT itself is in each
 * app's schema: its default differs per app.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError } from './env.js';
import { durationMsField } from './units.js';

/** The repository root (this file is shared/src/config/ops.ts). */
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const opsEnvShape = {
  METRICS_HOST: z.string().default('127.0.0.1'),
  /** Dockerflow version.json (written at image build); relative paths are from the working directory. */
  VERSION_FILE: z.string().default('version.json'),
  /** Longest run of each /__heartbeat__ check. */
  HEARTBEAT_TIMEOUT: durationMsField('2s'),
};

/** Dockerflow's version.json: source, version, commit, build (and whatever else the file holds). */
export interface VersionInfo {
  readonly source: string;
  readonly version: string;
  readonly commit: string;
  readonly [key: string]: unknown;
}

export interface OpsConfig {
  /** Undefined when METRICS_PORT is 0 (no metrics port). */
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
  readonly version: VersionInfo;
  readonly heartbeatTimeoutMs: number;
}

interface OpsEnv {
  readonly METRICS_PORT: number;
  readonly METRICS_HOST: string;
  readonly VERSION_FILE: string;
  readonly HEARTBEAT_TIMEOUT: number;
}

export function opsFromEnv(env: OpsEnv): OpsConfig {
  return {
    metricsPort: env.METRICS_PORT === 0 ? undefined : env.METRICS_PORT,
    metricsHost: env.METRICS_HOST,
    version: loadVersionInfo(env.VERSION_FILE),
    heartbeatTimeoutMs: env.HEARTBEAT_TIMEOUT,
  };
}

/**
 * The JSON of `file` (an object; its version/commit/source default to
 * "unknown" where missing), or, when there is no such file, one built from the
 * repository's package.json: its version, its repository as source, commit
 * "unknown". A file that is not a JSON object is a ConfigError naming VERSION_FILE.
 */
export function loadVersionInfo(file: string): VersionInfo {
  let text: string;
  try {
    text = readFileSync(path.resolve(file), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return packageVersionInfo();
    throw new ConfigError([{ variable: 'VERSION_FILE', message: `cannot read ${file}: ${(error as Error).message}` }]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([{ variable: 'VERSION_FILE', message: `${file} is not a JSON object` }]);
  }
  const fields = parsed as Record<string, unknown>;
  const field = (name: string): string => {
    const value = fields[name];
    return typeof value === 'string' ? value : 'unknown';
  };
  return { ...fields, source: field('source'), version: field('version'), commit: field('commit') };
}

let fromPackage: VersionInfo | undefined;

/** The version.json of a checkout without one: package.json's version and repository, commit unknown. */
export function packageVersionInfo(): VersionInfo {
  if (fromPackage) return fromPackage;
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: unknown; repository?: unknown; homepage?: unknown };
  const repository = typeof pkg.repository === 'object' && pkg.repository !== null ? (pkg.repository as { url?: unknown }).url : pkg.repository;
  const source = [repository, pkg.homepage].find((value): value is string => typeof value === 'string') ?? 'unknown';
  fromPackage = { source, version: typeof pkg.version === 'string' ? pkg.version : 'unknown', commit: 'unknown' };
  return fromPackage;
}
