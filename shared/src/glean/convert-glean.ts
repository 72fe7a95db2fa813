/**
 * A generic-form submission (a Glean ping, SPEC 2) from its decoded bytes to
 * a stored record: strict UTF-8, JSON, the Glean shape (an object with
 * `ping_info` and `client_info` objects, else `bad_payload`), stored as sent
 * in minimal JSON — metrics are not converted, there is no Histograms.json for
 * them — under the generic layout. Throws PingError, the decoded text kept
 * with it so the error store shows it readable.
 */
import { assertStorable } from '../conversion/convert-ping.js';
import { decodeUtf8, parsePingJson } from '../conversion/decode-body.js';
import type { ConvertedRecord } from '../conversion/submission.js';
import { dimensionValues, genericStorageLocation } from '../dimensions/storage-path.js';
import { PingError } from '../errors.js';
import type { GenericForm } from '../generic-form.js';
import type { GenericSchemas } from './generic-schema.js';

export interface GenericSubmission {
  readonly docId: string;
  readonly receivedAtMs: number;
  readonly generic: GenericForm;
}

/** A Glean ping's shape, as far as this pipeline relies on it. */
interface GleanPing extends Record<string, unknown> {
  readonly ping_info: Record<string, unknown>;
  readonly client_info: Record<string, unknown>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : value === undefined ? 'missing' : typeof value;
}

/** The parsed value as a Glean ping, or a `bad_payload` PingError saying what is wrong. */
export function asGleanPing(value: unknown): GleanPing {
  if (!isPlainObject(value)) throw new PingError('bad_payload', `Glean ping is ${kindOf(value)}, not a JSON object`);
  if (!isPlainObject(value.ping_info)) throw new PingError('bad_payload', `Glean ping's ping_info is ${kindOf(value.ping_info)}, not an object`);
  if (!isPlainObject(value.client_info)) throw new PingError('bad_payload', `Glean ping's client_info is ${kindOf(value.client_info)}, not an object`);
  // Nesting past MAX_PING_DEPTH would overflow JSON.stringify; an out-of-range number would be stored as null.
  assertStorable(value, undefined);
  return value as GleanPing;
}

/** Converts decoded bytes of a generic-form submission. Throws PingError. */
export function convertGenericDecoded(submission: GenericSubmission, bytes: Uint8Array, schemas: GenericSchemas): ConvertedRecord {
  const text = decodeUtf8(bytes);
  let ping: GleanPing;
  try {
    ping = asGleanPing(parsePingJson(text));
  } catch (error) {
    if (error instanceof PingError) throw new PingError(error.type, error.message, { cause: error.cause, decodedBody: text });
    throw error;
  }
  const { namespace, docType, docVersion } = submission.generic;
  const info: Record<string, unknown> = {
    namespace,
    docType,
    docVersion,
    channel: ping.client_info.app_channel,
    version: ping.client_info.app_display_version,
  };
  const dimensions = dimensionValues(schemas.forNamespace(namespace), info, submission.receivedAtMs);
  const { dir, fileStem } = genericStorageLocation(dimensions);
  return {
    docId: submission.docId,
    json: JSON.stringify(ping),
    dimensions,
    info,
    dir,
    fileStem,
    droppedHistograms: [],
    convertedHistograms: 0,
    generic: { namespace, docType, docVersion, channel: dimensions[3] ?? '' },
  };
}
