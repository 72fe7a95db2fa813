/**
 * Decode stage: a submission's body inflated (with the MAX_UNCOMPRESSED cap)
 * and digested with its docId (the dedup key), as its message arrives.
 */
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import { contentDigest, decodeSubmission } from '@telemetry/shared/conversion/submission';
import { isValidDocId } from '@telemetry/shared/doc-id';
import { genericFormProblem } from '@telemetry/shared/generic-form';
import { PingError, type PingErrorType } from '@telemetry/shared/errors';
import type { ErrorEntry } from '@telemetry/shared/storage/error-store';
import type { DecodeOutcome } from './unit.js';

export function decodeStage(submission: Submission, maxUncompressedBytes: number): DecodeOutcome {
  if (!isValidDocId(submission.docId)) return invalidOutcome(submission, `invalid docId "${submission.docId.slice(0, 100)}"`);
  // What the gateway checked, checked again: the generic form's fields become directory names.
  const problem = submission.generic && genericFormProblem(submission.generic, submission.docId);
  if (problem) return invalidOutcome(submission, `invalid generic form: ${problem}`);
  try {
    const { bytes, contentDigest: key } = decodeSubmission(submission, maxUncompressedBytes);
    return { kind: 'decoded', key, bytes };
  } catch (error) {
    if (!(error instanceof PingError)) throw error;
    return { kind: 'file', key: rawKey(submission), entry: errorEntry(submission, error.type, error.message) };
  }
}

/** A bad copy is identified by its raw body (it may not decode at all): a redelivery is filed once. */
export function rawKey(submission: Submission): Buffer {
  return contentDigest(submission.docId, submission.body);
}

/** A submission whose metadata is not what the gateway writes: filed as `invalid_path` with its body. */
export function invalidOutcome(submission: Submission, reason: string): DecodeOutcome {
  const docId = submission.docId.replace(/[^A-Za-z0-9-]/g, '_').slice(0, 100);
  return { kind: 'file', key: undefined, entry: errorEntry({ ...submission, docId: docId === '' ? `unknown-${submission.receivedAtMs}` : docId }, 'invalid_path', reason) };
}

/** The body kept is the decoded text when decoding succeeded, else the bytes as received. */
export function errorEntry(submission: Submission, type: PingErrorType, message: string, decodedBody?: string): ErrorEntry {
  return {
    docId: submission.docId,
    type,
    message,
    path: submission.path,
    generic: submission.generic,
    receivedAtMs: submission.receivedAtMs,
    body: decodedBody === undefined ? submission.body : Buffer.from(decodedBody, 'utf8'),
  };
}
