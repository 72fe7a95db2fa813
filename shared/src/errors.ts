/**
 * Typed errors of the domain. Callers decide what to do by class and `type`,
 * never by matching message text:
 * - PingError: the submission can never be stored; file it in the error store
 *   under its `type` and acknowledge it.
 * - TransientError: the submission is fine but something it needs is not
 *   (revision server down, disk full); retry later, never file it as bad.
 * - DefinitionError: a Histograms.json that cannot be compiled (the revision
 *   cache turns it into a `missing_revision` ping error).
 */

/** The error types of the error store (SPEC 5), in the order listed there. */
const PING_ERROR_TYPES = [
  'invalid_path',
  'empty_data',
  'corrupted_data',
  'too_large',
  'bad_json',
  'bad_payload',
  'missing_revision',
  'conversion_error',
] as const;

export type PingErrorType = (typeof PING_ERROR_TYPES)[number];

export function isPingErrorType(value: string): value is PingErrorType {
  return (PING_ERROR_TYPES as readonly string[]).includes(value);
}

/** A submission that can never be converted or stored. Permanent. */
export class PingError extends Error {
  override readonly name = 'PingError';
  /**
   * The body as decoded text (gunzipped, UTF-8) when the failure came after
   * decoding: the error store keeps this readable form instead of raw gzip.
   */
  readonly decodedBody: string | undefined;
  constructor(
    readonly type: PingErrorType,
    message: string,
    options?: { cause?: unknown; decodedBody?: string },
  ) {
    super(message, options);
    this.decodedBody = options?.decodedBody;
  }
}

/** Something the submission needs is unavailable right now: retry later. */
export class TransientError extends Error {
  override readonly name: string = 'TransientError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The Mercurial server could not be reached, timed out or answered 5xx. */
export class RevisionUnavailableError extends TransientError {
  override readonly name = 'RevisionUnavailableError';
}

/** Writing or syncing storage failed (disk full, I/O error). */
export class StorageWriteError extends TransientError {
  override readonly name = 'StorageWriteError';
}

/** A Histograms.json that is not valid: not JSON, wrong shape, unknown kind, bad number. */
export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
  constructor(
    message: string,
    readonly histogram?: string,
  ) {
    super(histogram === undefined ? message : `${histogram}: ${message}`);
  }
}

/** A dimension schema or input filter file that is not valid. */
export class SchemaError extends Error {
  override readonly name = 'SchemaError';
}

/** Why a message is retried or filed, decided by error class (never by message text). */
export type ErrorDisposition =
  | { kind: 'file'; type: PingErrorType; message: string; decodedBody: string | undefined }
  | { kind: 'retry'; message: string }
  | { kind: 'crash'; error: unknown };

export function classifyError(error: unknown): ErrorDisposition {
  if (error instanceof PingError) {
    return { kind: 'file', type: error.type, message: error.message, decodedBody: error.decodedBody };
  }
  if (error instanceof TransientError) return { kind: 'retry', message: error.message };
  return { kind: 'crash', error };
}
