import type { z } from 'zod';

/** A configuration value that does not parse; the message names every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: readonly { variable: string; message: string }[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n')}`);
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses environment variables (or a plain object in tests) with one zod
 * schema per app. Empty strings count as unset so `FOO=` falls back to the default.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  const cleaned: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      variable: issue.path.map(String).join('.') || '(root)',
      message: issue.message,
    })),
  );
}

/**
 * Parses `env` with `schema` and builds the app's config from it with
 * `build`; a schema field that `build` never reads is a programming error
 * (a variable an operator sets would silently do nothing), so it throws at
 * start-up and in every test that parses the config, as gcp-ingestion's
 * Env.requireAllVarsUsed does.
 */
export function configFromEnv<S extends z.ZodObject, T>(schema: S, env: Env, build: (parsed: z.output<S>) => T): T {
  const parsed = parseEnv(schema, env);
  const read = new Set<string | symbol>();
  const tracked = new Proxy(parsed, {
    get(target, key, receiver) {
      read.add(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  const config = build(tracked);
  const unread = Object.keys(schema.shape).filter((key) => !read.has(key));
  if (unread.length > 0) throw new UnreadConfigError(unread);
  return config;
}

/** A parsed configuration field that the app never reads. */
export class UnreadConfigError extends Error {
  override readonly name = 'UnreadConfigError';
  constructor(readonly variables: readonly string[]) {
    super(`configuration parsed but never read: ${variables.join(', ')}`);
  }
}
