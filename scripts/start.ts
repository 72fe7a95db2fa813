/**
 * `npm start` (after scripts/start.sh has set the machine up): the whole
 * stack on this machine under one supervisor process (`telemetry-start`).
 *
 *   gateway   node --import tsx apps/gateway/src/main.ts   (clusters itself: GATEWAY_PROCESSES)
 *   workers   node --import tsx apps/workers/src/main.ts   (forks WORKERS processes itself)
 *   stats     node --import tsx apps/stats/src/main.ts     (only when that file exists)
 *
 * Environment: the real environment, plus the optional `.env` at the
 * repository root (or ENV_FILE) for what the real environment does not set;
 * every child inherits it. Supervisor settings:
 *   START_APPS          comma list of apps to run (default: every app present)
 *   START_STOP_TIMEOUT  graceful stop budget before SIGKILL (default 45s)
 *
 * A child that exits is restarted with exponential backoff; one that exits
 * with 78 (configuration error) stops everything and the supervisor exits 78
 * with its message. SIGTERM/SIGINT/SIGHUP, or the death of its parent (npm):
 * SIGTERM to every child, wait, exit 0 (a second signal, a second or more
 * after the first, kills at once). If this process itself is SIGKILLed, every
 * app notices that its parent is gone and stops on its own (shared/src/process/shutdown.ts).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError, parseEnv } from '@telemetry/shared/config/env';
import { durationMsField } from '@telemetry/shared/config/units';
import { createLogger } from '@telemetry/shared/logger';
import { watchParent } from '@telemetry/shared/process/shutdown';
import { loadEnvFile } from './supervisor/env-file.js';
import { CONFIG_ERROR_EXIT_CODE, Supervisor, type AppSpec } from './supervisor/supervisor.js';

process.title = 'telemetry-start';
const ROOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The apps `npm start` knows, in start order; one whose entry file is missing is skipped. */
const APP_ENTRIES: Readonly<Record<string, string>> = {
  gateway: 'apps/gateway/src/main.ts',
  workers: 'apps/workers/src/main.ts',
  stats: 'apps/stats/src/main.ts',
};

const startEnvSchema = z.object({
  START_APPS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
      const unknown = names.filter((name) => !(name in APP_ENTRIES));
      if (names.length === 0 || unknown.length > 0) {
        ctx.addIssue({ code: 'custom', message: `"${text}" must list some of ${Object.keys(APP_ENTRIES).join(', ')}` });
        return z.NEVER;
      }
      return names;
    }),
  START_STOP_TIMEOUT: durationMsField('45s'),
});

function fail(message: string): never {
  process.stderr.write(`[telemetry-start] ${message}\n`);
  process.exit(CONFIG_ERROR_EXIT_CODE);
}

const logger = createLogger('start');

function loadSettings() {
  try {
    const envFile = loadEnvFile(ROOT_DIR);
    return { envFile, settings: parseEnv(startEnvSchema, process.env) };
  } catch (error) {
    if (error instanceof ConfigError || error instanceof Error) {
      logger.fatal(error.message);
      fail(error.message);
    }
    throw error;
  }
}
const { envFile, settings } = loadSettings();

const available = Object.keys(APP_ENTRIES).filter((name) => existsSync(path.join(ROOT_DIR, APP_ENTRIES[name] ?? '')));
const wanted = settings.START_APPS ?? available;
const missing = wanted.filter((name) => !available.includes(name));
if (missing.length > 0) {
  const message = `START_APPS: ${missing.join(', ')} not present in this checkout (${missing.map((name) => APP_ENTRIES[name]).join(', ')})`;
  logger.fatal(message);
  fail(message);
}
const apps: AppSpec[] = wanted.map((name) => ({
  name,
  command: process.execPath,
  args: ['--import', 'tsx', path.join(ROOT_DIR, APP_ENTRIES[name] ?? '')],
}));

const supervisor = new Supervisor({
  apps,
  cwd: ROOT_DIR,
  env: process.env,
  logger,
  stopTimeoutMs: settings.START_STOP_TIMEOUT,
});

// Ctrl-C in a terminal reaches both npm (which forwards it) and this process:
// a repeat within a second is the same request, a later one means "now".
let firstSignalAt: number | undefined;
const onSignal = (signal: NodeJS.Signals): void => {
  if (firstSignalAt === undefined) {
    firstSignalAt = Date.now();
    logger.info({ signal }, 'shutting down');
    void supervisor.stop(`${signal} received`, 0);
  } else if (Date.now() - firstSignalAt >= 1_000) {
    logger.warn({ signal }, 'second signal: killing every app now');
    supervisor.killNow();
  }
};
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, onSignal);
// npm (our parent) killed: stop the stack rather than run on with no one reading its output.
watchParent(() => {
  logger.warn('parent process exited; stopping');
  void supervisor.stop('parent exited', 0);
});
// Our output went away (e.g. `npm start | head`): stop gracefully rather than die on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', () => void supervisor.stop('output closed', 0));
}
process.on('uncaughtException', (error) => {
  logger.fatal({ err: error }, 'supervisor failed; killing every app');
  supervisor.killNow();
  process.exit(1);
});

logger.info(
  {
    apps: wanted,
    skipped: Object.keys(APP_ENTRIES).filter((name) => !wanted.includes(name)),
    envFile: envFile.file,
    fromEnvFile: Object.keys(envFile.applied),
    realEnvWins: envFile.shadowed,
  },
  'starting the stack',
);
supervisor.start();

const result = await supervisor.done;
if (result.exitCode !== 0) process.stderr.write(`[telemetry-start] stopped: ${result.reason}\n`);
process.exit(result.exitCode);
