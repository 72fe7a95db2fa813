/**
 * Used by scripts/start.sh before anything else runs, so that the checks of
 * ensure-services.sh (AMQP_URL, REDIS_URL) see the same `.env` as the apps:
 * prints `export KEY='value'` for each variable of the env file that the
 * real environment does not set. Prints nothing when there is no file.
 *
 *   eval "$(node --import tsx scripts/supervisor/env-file-cli.ts)"
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { envFilePath, resolveEnvFile, shellExports } from './env-file.js';

const rootDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
try {
  const result = resolveEnvFile(envFilePath(rootDir, process.env), process.env);
  for (const key of result.invalid) process.stderr.write(`[start] ${result.file}: ignoring "${key}" (not a variable name)\n`);
  process.stdout.write(shellExports(result.applied));
} catch (error) {
  process.stderr.write(`[start] ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
