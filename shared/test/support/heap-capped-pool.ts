/**
 * Run by cluster-pool.test.ts: a pool of one process with a heap cap of
 * HEAP_CAP_MIB; the pooled process reports V8's heap limit, the primary
 * prints it as JSON and stops the pool.
 */
import cluster from 'node:cluster';
import v8 from 'node:v8';
import { silentLogger } from '../../src/logger.js';
import { heapCapArgs, startClusterPool } from '../../src/process/cluster-pool.js';

if (cluster.isPrimary) {
  const pool = startClusterPool({
    count: 1,
    logger: silentLogger,
    execArgv: heapCapArgs(Number(process.env.HEAP_CAP_MIB) * 2 ** 20),
    onWorker: (worker) =>
      worker.on('message', (message: unknown) => {
        process.stdout.write(`${JSON.stringify(message)}\n`);
        void pool.stop().then(() => process.exit(0));
      }),
  });
} else {
  process.send?.({ heapSizeLimitMiB: v8.getHeapStatistics().heap_size_limit / 2 ** 20 });
  process.on('SIGTERM', () => process.exit(0));
}
