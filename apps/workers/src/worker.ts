/**
 * One worker process: consume `telemetry.persist`, convert, dedup, persist
 * with fsync, acknowledge. Started alone (`WORKER_SLOT`, default 0) or by the
 * pool in main.ts. Graceful shutdown: stop consuming, finish the batch in
 * hand, acknowledge, finish and compress files, exit 0.
 */
import type { Logger } from 'pino';
import path from 'node:path';
import { convertDecoded, type ConversionContext } from '@telemetry/shared/conversion/submission';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { convertGenericDecoded } from '@telemetry/shared/glean/convert-glean';
import { GenericSchemas } from '@telemetry/shared/glean/generic-schema';
import { createRedis } from '@telemetry/shared/redis';
import { RevisionCache } from '@telemetry/shared/revisions/revision-cache';
import { ErrorStoreWriter } from '@telemetry/shared/storage/error-store';
import { PartitionedWriter } from '@telemetry/shared/storage/writer';
import { LowPriorityCompressor } from '@telemetry/shared/storage/compression-process';
import { processBatch } from './stages/process-batch.js';
import { DeathCounts, LinesFile, SuspectJournalFile } from './poison.js';
import { writerIdFor, type WorkersConfig } from './config.js';
import { RedisDedupStore } from './dedup/redis-dedup-store.js';
import { reportOutcome } from './outcome-stats.js';
import { RedisCounterStore } from '@telemetry/shared/stats/counter-store';
import { createWorkerMetrics, type WorkerMetrics } from './metrics.js';
import { PersistConsumer } from './persist-consumer.js';
import { lockWriterId } from './writer-lock.js';

export interface RunningWorker {
  readonly writerId: string;
  readonly consumer: PersistConsumer;
  readonly storage: PartitionedWriter;
  readonly errorStore: ErrorStoreWriter;
  readonly metrics: WorkerMetrics;
  stop(): Promise<void>;
}

/** `metrics`: this process's (main.ts serves them on METRICS_PORT, or hands them to the pool primary). */
export async function startWorker(config: WorkersConfig, logger: Logger, metrics: WorkerMetrics = createWorkerMetrics({ version: config.version })): Promise<RunningWorker> {
  const writerId = writerIdFor(config);
  const log = logger.child({ writerId });
  const unlock = await lockWriterId(config.storageDir, writerId);

  // COMPRESSION_NICE 0: compress in this process; else in a child at that much lower CPU priority.
  const compressor = config.compressionNice > 0 ? new LowPriorityCompressor(config.compressionNice) : undefined;
  const writerOptions = {
    writerId,
    maxFileBytes: config.maxFileBytes,
    maxFileAgeMs: config.maxFileAgeMs,
    compression: config.compression,
    logger: log,
    ...(compressor ? { compressFile: (src: string, compression: Exclude<WorkersConfig['compression'], 'none'>) => compressor.compress(src, compression) } : {}),
  };
  const storage = new PartitionedWriter({ rootDir: config.storageDir, ...writerOptions });
  const errorStore = new ErrorStoreWriter({ rootDir: config.errorsDir, ...writerOptions });
  const recovered = await Promise.all([storage.recover(), errorStore.recover()]);
  log.info({ recovered }, 'finished files left by an earlier run of this writer');

  const schema = await loadDimensionSchema(config.schemaFile);
  const genericSchemas = await GenericSchemas.load(config.genericSchemaFile);
  const revisions = new RevisionCache({
    hgServer: config.hgServer,
    cacheDir: config.revisionCacheDir,
    memoryMaxBytes: config.revisionMemoryMaxBytes,
    diskMaxBytes: config.revisionDiskCacheMaxBytes,
    metrics: metrics.revisionCache,
    logger: log,
  });
  // Each save trims too; this covers what other processes (or a larger bound before) left. It never rejects.
  void revisions.trimDisk();
  const context: ConversionContext = {
    revisions,
    schema,
    maxUncompressedBytes: config.maxUncompressedBytes,
  };
  const redis = createRedis(config.redisUrl, log, { name: `telemetry-worker ${writerId}` });
  const dedup = new RedisDedupStore(redis, config.dedupPrefix);
  const counters = new RedisCounterStore(redis, config.stats);

  const deaths = new DeathCounts(redis, `${config.dedupPrefix}deaths:`, 24 * 3_600_000);
  const { journal, leftover } = SuspectJournalFile.open(path.join(config.storageDir, '.writers', `${writerId}.suspects`));
  if (leftover.length > 0) {
    log.warn({ suspects: leftover }, 'the previous process of this writer died while converting these submissions');
    await deaths.add(leftover).catch((error: unknown) => log.warn({ err: error }, 'could not count the deaths (the delivery limit still applies)'));
  }
  // Claims a dead predecessor of this writer held: released now, so that other workers need not wait out CLAIM_LEASE.
  const claims = LinesFile.open(path.join(config.storageDir, '.writers', `${writerId}.claims`));
  if (claims.leftover.length > 0) {
    await dedup
      .release(claims.leftover.map((hex) => Buffer.from(hex, 'hex')), writerId)
      .catch((error: unknown) => log.warn({ err: error }, 'could not release the claims of the previous process; they expire with their lease'));
  }
  const inFlightKeys = new Set<string>();

  const consumer = new PersistConsumer({
    url: config.amqpUrl,
    topology: config.topology,
    prefetch: config.prefetch,
    batch: config.batch,
    holdRecheckMs: config.holdRecheckMs,
    confirmTimeoutMs: config.confirmTimeoutMs,
    maxUncompressedBytes: config.maxUncompressedBytes,
    poisonLimit: config.poisonLimit,
    logger: log,
    connectionName: `telemetry-worker ${writerId}`,
    deathCounts: (ids) => deaths.get(ids),
    process: (units) =>
      processBatch(units, {
        dedup,
        owner: writerId,
        claimLeaseMs: config.claimLeaseMs,
        inFlightKeys,
        claimJournal: { record: (keys) => claims.file.write(keys) },
        dedupTtlMs: config.dedupTtlMs,
        maxAttempts: config.retryMaxAttempts,
        // The telemetry form is converted (Histograms.json); the generic form (Glean) is stored as sent, in its own layout.
        convert: async (submission, bytes) =>
          submission.generic ? convertGenericDecoded({ docId: submission.docId, receivedAtMs: submission.receivedAtMs, generic: submission.generic }, bytes, genericSchemas) : convertDecoded(submission, bytes, context),
        maxUncompressedBytes: config.maxUncompressedBytes,
        maxDecodedBytes: config.batch.maxBytes,
        journal,
        storage,
        errorStore,
        logger: log,
        timeStage: (stage, seconds) => metrics.stageSeconds.observe({ stage }, seconds),
      }),
    onResult: (result) => {
      metrics.record(result);
      reportOutcome(counters, schema, log, result);
    },
    onTransientFailure: () => metrics.transientFailures.inc(),
  });
  consumer.start();

  // Files open longer than MAX_FILE_AGE are finished even when no record arrives.
  const rotationTimer = setInterval(
    () => {
      void Promise.all([storage.rotateExpired(), errorStore.rotateExpired()]).catch((error: unknown) =>
        log.warn({ err: error }, 'rotation failed; retried on the next tick'),
      );
      metrics.pendingCompressions.set(storage.pendingCompressions + errorStore.pendingCompressions);
    },
    Math.max(250, Math.min(10_000, config.maxFileAgeMs / 4)),
  );

  return {
    writerId,
    consumer,
    storage,
    errorStore,
    metrics,
    async stop() {
      log.info('worker stopping: no new messages, finishing the batch in hand');
      clearInterval(rotationTimer);
      await consumer.stop();
      await Promise.all([storage.close(), errorStore.close()]);
      compressor?.close();
      redis.disconnect();
      journal.close();
      claims.file.close();
      await unlock();
      log.info('worker stopped');
    },
  };
}
