/**
 * Run by shutdown.test.ts, in one of these modes (LIFECYCLE_MODE):
 *   crashing-pool    a pool of two processes that exit 3 at once, forever;
 *                    SIGTERM stops the primary.
 *   stubborn-pool    a pool of two processes that ignore SIGTERM; SIGTERM
 *                    stops the primary, which must SIGKILL them.
 *   parent           spawns a `child` and prints its pid, then idles.
 *   child            installShutdown with a stop that prints "stopped".
 *   hanging          installShutdown with a stop that never ends.
 * Each line on stdout is one event, as JSON.
 */
import { spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/logger.js';
import { installPoolShutdown, startClusterPool } from '../../src/process/cluster-pool.js';
import { installShutdown } from '../../src/process/shutdown.js';

const say = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
const mode = process.env.LIFECYCLE_MODE;

if (mode === 'crashing-pool' || mode === 'stubborn-pool') {
  if (cluster.isPrimary) {
    const pool = startClusterPool({ count: 2, logger: silentLogger, onWorker: (worker) => worker.on('online', () => say({ online: worker.process.pid })) });
    installPoolShutdown(pool, silentLogger, Number(process.env.SHUTDOWN_TIMEOUT_MS ?? '500'));
    say({ primary: process.pid });
  } else if (mode === 'crashing-pool') {
    process.exit(3);
  } else {
    process.on('SIGTERM', () => say({ ignoredSigterm: process.pid }));
    say({ stubborn: process.pid });
    setInterval(() => undefined, 1_000);
  }
} else if (mode === 'parent') {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, LIFECYCLE_MODE: 'child' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  say({ parent: process.pid, child: child.pid });
  setInterval(() => undefined, 1_000);
} else if (mode === 'child') {
  installShutdown(silentLogger, () => Promise.resolve(say({ stopped: process.pid })), { timeoutMs: 5_000, parentCheckMs: 50 });
  say({ ready: process.pid });
  setInterval(() => undefined, 1_000);
} else if (mode === 'hanging') {
  installShutdown(silentLogger, () => new Promise<void>(() => undefined), { timeoutMs: Number(process.env.SHUTDOWN_TIMEOUT_MS ?? '300') });
  say({ ready: process.pid });
  setInterval(() => undefined, 1_000);
}
