/**
 * The optional `.env` file of `npm start`. Parsed with Node's own parser
 * (`util.parseEnv`, the one behind `node --env-file`), so the syntax is
 * Node's: `KEY=value`, `export KEY=value`, quotes, `#` comments.
 *
 * Precedence: a variable already in the real environment always wins over
 * the file; the file wins over each app's built-in default.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';

/** A name a shell can export (anything else in the file is ignored with a warning). */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface EnvFileResult {
  /** The file read, or undefined when there was none. */
  readonly file: string | undefined;
  /** Variables taken from the file (not set in the real environment). */
  readonly applied: Record<string, string>;
  /** Names in the file that the real environment already sets (the real value is kept). */
  readonly shadowed: string[];
  /** Names in the file that are not valid variable names (ignored). */
  readonly invalid: string[];
}

/**
 * The env file to read: `ENV_FILE` when set (it must exist), else `.env`
 * in `rootDir` when it exists, else none.
 */
export function envFilePath(rootDir: string, env: NodeJS.ProcessEnv): string | undefined {
  const explicit = env.ENV_FILE;
  if (explicit !== undefined && explicit !== '') {
    const file = path.resolve(rootDir, explicit);
    if (!existsSync(file)) throw new Error(`ENV_FILE: ${file} does not exist`);
    return file;
  }
  const file = path.join(rootDir, '.env');
  return existsSync(file) ? file : undefined;
}

/** Parses the text of an env file into variables (Node's parser). */
export function parseEnvText(text: string): Record<string, string> {
  const parsed = parseEnv(text);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) if (value !== undefined) out[key] = value;
  return out;
}

/** What the file adds to `env` without overriding anything `env` already has. */
export function resolveEnvFile(file: string | undefined, env: NodeJS.ProcessEnv): EnvFileResult {
  const result: EnvFileResult = { file, applied: {}, shadowed: [], invalid: [] };
  if (file === undefined) return result;
  for (const [key, value] of Object.entries(parseEnvText(readFileSync(file, 'utf8')))) {
    if (!VARIABLE_NAME.test(key)) result.invalid.push(key);
    else if (env[key] !== undefined) result.shadowed.push(key);
    else result.applied[key] = value;
  }
  return result;
}

/** Loads the env file into `env` (normally process.env); the real environment wins. */
export function loadEnvFile(rootDir: string, env: NodeJS.ProcessEnv = process.env): EnvFileResult {
  const result = resolveEnvFile(envFilePath(rootDir, env), env);
  Object.assign(env, result.applied);
  return result;
}

/** `export KEY='value'` lines for a POSIX shell (start.sh evals them). */
export function shellExports(variables: Record<string, string>): string {
  return Object.entries(variables)
    .map(([key, value]) => `export ${key}='${value.replaceAll("'", `'\\''`)}'\n`)
    .join('');
}
