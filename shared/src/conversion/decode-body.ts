import { gunzipSync } from 'node:zlib';
import { PingError } from '../errors.js';

/**
 * A submitted body as received by the gateway (bytes, usually gzip) -> JSON
 * text -> value. Each failure is a PingError of the SPEC 5 type an operator
 * looks for in the error store.
 */

export interface DecodeOptions {
  /** The request's Content-Encoding header, if any. */
  contentEncoding?: string | undefined;
  /** Largest decompressed (or plain) body accepted, in bytes (MAX_UNCOMPRESSED). */
  maxUncompressedBytes: number;
}

const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

/** Strict: a body that is not valid UTF-8 is refused rather than stored with U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

function hasGzipMagic(body: Uint8Array): boolean {
  return body.length >= 2 && body[0] === GZIP_MAGIC_0 && body[1] === GZIP_MAGIC_1;
}

function saysGzip(contentEncoding: string | undefined): boolean {
  if (contentEncoding === undefined) return false;
  const encoding = contentEncoding.trim().toLowerCase();
  return encoding === 'gzip' || encoding === 'x-gzip';
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function gunzip(body: Uint8Array, maxUncompressedBytes: number): Uint8Array {
  try {
    // maxOutputLength makes zlib stop inflating once the output would pass
    // the cap, so a gzip bomb costs at most the cap in memory and time.
    return gunzipSync(body, { maxOutputLength: maxUncompressedBytes });
  } catch (error) {
    if (errorCode(error) === 'ERR_BUFFER_TOO_LARGE') {
      throw new PingError('too_large', `body inflates to more than ${maxUncompressedBytes} bytes`, { cause: error });
    }
    throw new PingError('corrupted_data', `body is not valid gzip: ${errorMessage(error)}`, { cause: error });
  }
}

/**
 * The decoded bytes of a body: gunzipped when the Content-Encoding says gzip
 * or the body starts with the gzip magic bytes (clients do not always send
 * the header), size-capped.
 */
export function inflateBody(body: Uint8Array, options: DecodeOptions): Uint8Array {
  if (body.length === 0) throw new PingError('empty_data', 'body is empty');
  const cap = options.maxUncompressedBytes;
  if (hasGzipMagic(body) || saysGzip(options.contentEncoding)) {
    const bytes = gunzip(body, cap);
    if (bytes.length === 0) throw new PingError('empty_data', 'body is empty once gunzipped');
    return bytes;
  }
  if (body.length > cap) throw new PingError('too_large', `body of ${body.length} bytes is over ${cap} bytes`);
  return body;
}

/**
 * What a body will decode to, without decoding it: a gzip member's trailer
 * (ISIZE) or the raw size, capped. Exact for honest clients; a lying trailer
 * is caught where the bytes are really counted (the workers' decode stage).
 */
export function estimateDecodedBytes(body: Uint8Array, options: DecodeOptions): number {
  if (!(hasGzipMagic(body) || saysGzip(options.contentEncoding)) || body.length < 18) return Math.min(body.length, options.maxUncompressedBytes);
  const isize = (body[body.length - 4] ?? 0) | ((body[body.length - 3] ?? 0) << 8) | ((body[body.length - 2] ?? 0) << 16) | ((body[body.length - 1] ?? 0) << 24);
  return Math.min(isize >>> 0, options.maxUncompressedBytes);
}

/** Strict UTF-8 text of decoded bytes (a leading BOM is dropped). */
export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (error) {
    throw new PingError('corrupted_data', 'body is not valid UTF-8', { cause: error });
  }
}

/** The JSON text of a body: {@link inflateBody}, then strict UTF-8 ({@link decodeUtf8}). */
export function decodeBody(body: Uint8Array, options: DecodeOptions): string {
  return decodeUtf8(inflateBody(body, options));
}

/** Parses a ping's JSON text; any syntax error is `bad_json`. */
export function parsePingJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PingError('bad_json', `body is not valid JSON: ${errorMessage(error)}`, { cause: error });
  }
}
