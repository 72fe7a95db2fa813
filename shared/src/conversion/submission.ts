import { PingError } from '../errors.js';
import type { DimensionSchema } from '../dimensions/schema.js';
import { dimensionValues, storageLocation } from '../dimensions/storage-path.js';
import type { RevisionSource } from '../revisions/types.js';
import { createHash } from 'node:crypto';
import { decodeUtf8, inflateBody } from './decode-body.js';
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
  /**
   * Generic-form records only (Glean pings, stored in the generic layout): the
   * URL's fields and the channel as stored, which realtime stats count by.
   */
  readonly generic?: { readonly namespace: string; readonly docType: string; readonly docVersion: string; readonly channel: string } | undefined;
}

/** A submission's body decoded, with the digest that identifies its document for deduplication. */
export interface DecodedSubmission {
  readonly bytes: Uint8Array;
  /** {@link contentDigest} of the docId and the decoded body. */
  readonly contentDigest: Buffer;
}

/**
 * 16 bytes of SHA-256 over the docId and a body: two copies of one document
 * (a retry, a redelivery) have the same digest however the client compressed
 * them when `bytes` is the decoded body; two documents sharing a docId differ.
 */
export function contentDigest(docId: string, bytes: Uint8Array): Buffer {
  return createHash('sha256').update(docId).update('\0').update(bytes).digest().subarray(0, 16);
}

/** Decodes a body (gunzip with a cap) and digests the decoded bytes. Throws PingError. */
export function decodeSubmission(submission: RawSubmission, maxUncompressedBytes: number): DecodedSubmission {
  const bytes = inflateBody(submission.body, { contentEncoding: submission.contentEncoding, maxUncompressedBytes });
  return { bytes, contentDigest: contentDigest(submission.docId, bytes) };
}

/**
 * Conversion of decoded bytes: strict UTF-8, parse, convert, serialise,
 * place. Throws PingError (file it) or a TransientError (retry it).
 */
export async function convertDecoded(submission: RawSubmission, bytes: Uint8Array, context: ConversionContext): Promise<ConvertedRecord> {
  const text = decodeUtf8(bytes);
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

/** The whole conversion of one submission: {@link decodeSubmission}, then {@link convertDecoded}. */
export async function convertSubmission(submission: RawSubmission, context: ConversionContext): Promise<ConvertedRecord> {
  return convertDecoded(submission, decodeSubmission(submission, context.maxUncompressedBytes).bytes, context);
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
