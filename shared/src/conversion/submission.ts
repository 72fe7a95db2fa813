import { PingError } from '../errors.js';
import type { DimensionSchema } from '../dimensions/schema.js';
import { dimensionValues, storageLocation } from '../dimensions/storage-path.js';
import type { RevisionSource } from '../revisions/types.js';
import { decodeBody } from './decode-body.js';
import { convertText } from './fast-path.js';

/** What a worker (or `telemetry convert`) needs to turn a submission into a stored record. */
export interface ConversionContext {
  readonly revisions: RevisionSource;
  readonly schema: DimensionSchema;
  readonly maxUncompressedBytes: number;
}

/** A submission as received by the gateway. */
export interface RawSubmission {
  readonly docId: string;
  readonly body: Uint8Array;
  readonly contentEncoding?: string | undefined;
  readonly receivedAtMs: number;
}

/** A converted ping ready to append: its line content and where it goes. */
export interface ConvertedRecord {
  readonly docId: string;
  /** Minimal JSON of the converted ping (no raw newline, so one line). */
  readonly json: string;
  readonly dimensions: readonly string[];
  /** The converted ping's info (dimension source; realtime stats count by it). */
  readonly info: Readonly<Record<string, unknown>>;
  readonly dir: string;
  readonly fileStem: string;
  readonly droppedHistograms: readonly string[];
  readonly convertedHistograms: number;
}

/**
 * The whole conversion of one submission: decode (gunzip with a cap, strict
 * UTF-8), parse, convert, serialise, place. Throws PingError (file it) or a
 * TransientError (retry it).
 */
export async function convertSubmission(submission: RawSubmission, context: ConversionContext): Promise<ConvertedRecord> {
  const text = decodeBody(submission.body, {
    contentEncoding: submission.contentEncoding,
    maxUncompressedBytes: context.maxUncompressedBytes,
  });
  try {
    return await convertPingText(submission.docId, text, submission.receivedAtMs, context);
  } catch (error) {
    // Keep the decoded text with the error: the error store shows it readable, not as base64 gzip.
    if (error instanceof PingError) {
      throw new PingError(error.type, error.message, { cause: error.cause, decodedBody: text });
    }
    throw error;
  }
}

/** Conversion from already-decoded JSON text (`telemetry convert` input). */
export async function convertPingText(
  docId: string,
  text: string,
  receivedAtMs: number,
  context: ConversionContext,
): Promise<ConvertedRecord> {
  const { result, json } = await convertText(text, context.revisions);
  const dimensions = dimensionValues(context.schema, result.info, receivedAtMs);
  const { dir, fileStem } = storageLocation(dimensions);
  return {
    docId,
    json,
    dimensions,
    info: result.info,
    dir,
    fileStem,
    droppedHistograms: result.droppedHistograms,
    convertedHistograms: result.convertedHistograms,
  };
}
