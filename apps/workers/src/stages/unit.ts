/**
 * The unit of work of a worker: one submission out of a persist message, as
 * it moves through the stages (SPEC 5)
 *
 *   decode ──▶ claim ──▶ convert ──▶ persist ──▶ route
 *
 * `decode` (inflate with a cap, digest: the dedup key) stops once the batch
 * holds BATCH_MAX_BYTES of decoded bodies; the rest of the batch is deferred
 * to the next one, so a batch is bounded by decoded bytes whatever its
 * submissions claim to inflate to. Each
 * stage returns decisions; none calls back into the transport: the persist
 * consumer turns the final {@link UnitDecision}s into acks, retry and
 * dead-letter messages.
 */
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import type { ConvertedRecord } from '@telemetry/shared/conversion/submission';
import type { ErrorEntry } from '@telemetry/shared/storage/error-store';

/** What the decode stage made of a submission (`pending`: not decoded yet). */
export type DecodeOutcome =
  | { readonly kind: 'pending' }
  /** `key` identifies the document (docId + decoded body). */
  | { readonly kind: 'decoded'; readonly key: Buffer; readonly bytes: Uint8Array }
  /** Can never be stored: filed in the error store (`key` undefined: metadata not ours, not deduplicated). */
  | { readonly kind: 'file'; readonly key: Buffer | undefined; readonly entry: ErrorEntry }
  /** Must not be tried again (it killed workers): the dead-letter queue, with why. */
  | { readonly kind: 'deadLetter'; readonly reason: string };

export interface Unit {
  readonly submission: Submission;
  /** Transient failures so far (the retry header of its message). */
  readonly attempts: number;
  /** Its identity in the poison journal while decoded and converted (undefined: not journaled). */
  readonly suspectId: string | undefined;
  /**
   * Mutable: once converted, the decoded bytes are replaced by the outcome, so
   * a batch holds them only until then (and a retried batch is not converted again).
   */
  decoded: DecodeOutcome | { readonly kind: 'converted'; readonly key: Buffer; readonly outcome: ConvertOutcome };
}

/** What the convert stage made of a unit. */
export type ConvertOutcome =
  | { readonly kind: 'store'; readonly record: ConvertedRecord }
  | { readonly kind: 'file'; readonly entry: ErrorEntry }
  /** Something it needs is away (revision server down): try again later. */
  | { readonly kind: 'retry'; readonly reason: string }
  | { readonly kind: 'deadLetter'; readonly reason: string };

/** The final word on a unit. */
export type UnitDecision =
  | { readonly kind: 'stored' }
  | { readonly kind: 'filed' }
  | { readonly kind: 'duplicate' }
  /** Another copy holds its claim right now: check again shortly. */
  | { readonly kind: 'hold' }
  /** Its batch was full of decoded bytes before it: handled in the next batch. */
  | { readonly kind: 'defer' }
  | { readonly kind: 'retry'; readonly reason: string }
  | { readonly kind: 'deadLetter'; readonly reason: string };

/** The dedup key of a unit, when it has one. */
export function unitKey(unit: Unit): Buffer | undefined {
  const { decoded } = unit;
  return decoded.kind === 'deadLetter' || decoded.kind === 'pending' ? undefined : decoded.key;
}

/** Decoded bytes a unit holds now (what the decode stage bounds). */
export function decodedBytes(unit: Unit): number {
  const { decoded } = unit;
  return decoded.kind === 'decoded' ? decoded.bytes.length : decoded.kind === 'file' ? decoded.entry.body.length : 0;
}
