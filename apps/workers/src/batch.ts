/**
 * One batch of deliveries from `telemetry.persist`, to a final disposition
 * each: stored, filed as a typed error, duplicate, retried later, dead-lettered,
 * or held (another worker holds its claim). Storage is durable (fsynced)
 * before anything is acknowledged; a storage or Redis failure throws a
 * TransientError and nothing of the batch is acknowledged.
 */
import type { Submission } from '@telemetry/shared/amqp/submission-message';
import type { ConvertedRecord } from '@telemetry/shared/conversion/submission';
import { classifyError, type PingErrorType } from '@telemetry/shared/errors';
import type { Logger } from 'pino';
import type { DedupStore } from './dedup/dedup-store.js';

export interface Delivery {
  /** Identifies the delivery to the consumer (delivery tag on its channel). */
  readonly tag: number;
  readonly submission: Submission;
  /**
   * Set for a message whose metadata is not what the gateway sends (no or a
   * bad docId, no path): it is filed as `invalid_path` with its body.
   */
  readonly invalidReason?: string | undefined;
  /** Transient failures so far (retry header). */
  readonly attempts: number;
}

export interface ErrorEntry {
  readonly docId: string;
  readonly type: PingErrorType;
  readonly message: string;
  readonly path: string;
  readonly receivedAtMs: number;
  readonly body: Uint8Array;
}

export interface RetryRouter {
  /** Sends the delivery to the delay queue (confirmed); it comes back later. */
  retryLater(delivery: Delivery, reason: string): Promise<void>;
  /** Sends the delivery to the dead-letter queue with the reason (confirmed). */
  deadLetter(delivery: Delivery, reason: string): Promise<void>;
}

export interface BatchDependencies {
  readonly dedup: DedupStore;
  readonly owner: string;
  readonly claimLeaseMs: number;
  readonly dedupTtlMs: number;
  readonly maxAttempts: number;
  readonly convert: (submission: Submission) => Promise<ConvertedRecord>;
  readonly storage: { appendBatch(records: readonly { dir: string; fileStem: string; line: string }[]): Promise<void> };
  readonly errorStore: { appendBatch(entries: readonly ErrorEntry[]): Promise<void> };
  readonly retries: RetryRouter;
  readonly logger: Logger;
}

export interface BatchOutcome {
  /** Finished: acknowledge. */
  readonly ack: Delivery[];
  /** Claimed elsewhere right now: check again shortly. */
  readonly hold: Delivery[];
  /** Could not be routed (broker gone): return to the queue. */
  readonly requeue: Delivery[];
  readonly stored: ConvertedRecord[];
  readonly filed: ErrorEntry[];
  duplicates: number;
  retried: number;
  deadLettered: number;
}

export async function processBatch(deliveries: readonly Delivery[], deps: BatchDependencies): Promise<BatchOutcome> {
  const outcome: BatchOutcome = { ack: [], hold: [], requeue: [], stored: [], filed: [], duplicates: 0, retried: 0, deadLettered: 0 };
  const transient: { delivery: Delivery; reason: string; deadLetter: boolean }[] = [];

  const candidates: { delivery: Delivery; submission: Submission }[] = [];
  const persisted: Delivery[] = [];
  const seen = new Set<string>();
  for (const delivery of deliveries) {
    if (delivery.invalidReason !== undefined) {
      outcome.filed.push(errorEntry(delivery.submission, 'invalid_path', delivery.invalidReason));
      persisted.push(delivery);
    } else if (seen.has(delivery.submission.docId)) {
      outcome.hold.push(delivery); // a second copy in this batch: decided once the first is done
    } else {
      seen.add(delivery.submission.docId);
      candidates.push({ delivery, submission: delivery.submission });
    }
  }

  const claims = await deps.dedup.claim(candidates.map((c) => c.submission.docId), deps.owner, deps.claimLeaseMs);
  const records: ConvertedRecord[] = [];
  for (const [index, candidate] of candidates.entries()) {
    const claim = claims[index];
    if (claim === 'done') {
      outcome.duplicates += 1;
      outcome.ack.push(candidate.delivery);
      continue;
    }
    if (claim === 'busy') {
      outcome.hold.push(candidate.delivery);
      continue;
    }
    try {
      records.push(await deps.convert(candidate.submission));
      persisted.push(candidate.delivery);
    } catch (error) {
      const disposition = classifyError(error);
      switch (disposition.kind) {
        case 'file':
          outcome.filed.push(errorEntry(candidate.submission, disposition.type, disposition.message, disposition.decodedBody));
          persisted.push(candidate.delivery);
          break;
        case 'retry':
          transient.push({
            delivery: candidate.delivery,
            reason: disposition.message,
            deadLetter: candidate.delivery.attempts + 1 >= deps.maxAttempts,
          });
          break;
        case 'crash':
          // A bug must not crash-loop the pool: keep the message for replay after a fix.
          deps.logger.error({ err: disposition.error, docId: candidate.submission.docId }, 'unexpected conversion failure');
          transient.push({ delivery: candidate.delivery, reason: `internal error: ${String(disposition.error)}`, deadLetter: true });
          break;
      }
    }
  }

  await Promise.all([
    records.length > 0
      ? deps.storage.appendBatch(records.map((r) => ({ dir: r.dir, fileStem: r.fileStem, line: `${r.docId}\t${r.json}` })))
      : undefined,
    outcome.filed.length > 0 ? deps.errorStore.appendBatch(outcome.filed) : undefined,
  ]);
  outcome.stored.push(...records);
  outcome.ack.push(...persisted);

  const persistedIds = persisted.filter((d) => d.invalidReason === undefined).map((d) => d.submission.docId);
  try {
    await deps.dedup.markDone(persistedIds, deps.dedupTtlMs);
  } catch (error) {
    // Already durable: acknowledging is right; the cost is that a later copy may not be deduplicated.
    deps.logger.warn({ err: error, count: persistedIds.length }, 'could not mark docIds done');
  }

  await routeTransient(transient, deps, outcome);
  return outcome;
}

async function routeTransient(
  transient: readonly { delivery: Delivery; reason: string; deadLetter: boolean }[],
  deps: BatchDependencies,
  outcome: BatchOutcome,
): Promise<void> {
  if (transient.length === 0) return;
  const claimed = transient.map((t) => t.delivery.submission.docId);
  await deps.dedup.release(claimed, deps.owner).catch((error: unknown) => {
    deps.logger.warn({ err: error }, 'could not release claims; they expire with their lease');
  });
  for (const { delivery, reason, deadLetter } of transient) {
    try {
      if (deadLetter) {
        await deps.retries.deadLetter(delivery, reason);
        outcome.deadLettered += 1;
      } else {
        await deps.retries.retryLater(delivery, reason);
        outcome.retried += 1;
      }
      outcome.ack.push(delivery);
    } catch (error) {
      deps.logger.warn({ err: error }, 'could not route a message for retry; returning it to the queue');
      outcome.requeue.push(delivery);
    }
  }
}

/** The body kept is the decoded text when decoding succeeded, else the bytes as received. */
function errorEntry(submission: Submission, type: PingErrorType, message: string, decodedBody?: string): ErrorEntry {
  return {
    docId: submission.docId,
    type,
    message,
    path: submission.path,
    receivedAtMs: submission.receivedAtMs,
    body: decodedBody === undefined ? submission.body : Buffer.from(decodedBody, 'utf8'),
  };
}
