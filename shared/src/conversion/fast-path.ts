import { Buffer } from 'node:buffer';
import type { RevisionSource } from '../revisions/types.js';
import { convertPing, type ConversionResult } from './convert-ping.js';
import { parsePingJson } from './decode-body.js';
import { scanPing } from './histogram-scan.js';
import { ConversionFallback, RawJson } from './scanned-histograms.js';

/**
 * Conversion of a ping's JSON text, exactly as
 * `JSON.stringify(convertPing(JSON.parse(text)).ping)` but without building
 * the histograms as objects: most of a ping is its histograms (74 of 76 KB
 * in the real one), whose sparse integer-keyed `values` objects are the
 * slowest thing V8 parses and enumerates. The histograms are scanned from
 * the text (histogram-scan.ts), the rest of the ping is parsed with
 * JSON.parse and converted by convertPing as usual, and the converted
 * histograms are written as JSON text and spliced into the serialised ping.
 *
 * Whatever the fast path does not handle exactly (see scanPing and
 * ScannedHistograms.convert), and every conversion error in the histograms,
 * goes to the general path, whose result or error is the one of record.
 */

export interface TextConversion {
  readonly result: ConversionResult;
  /** Minimal JSON of result.ping. */
  readonly json: string;
}

/** The general path: parse everything, convert, serialise. */
export async function convertTextGeneral(text: string, revisions: RevisionSource): Promise<TextConversion> {
  const result = await convertPing(parsePingJson(text), revisions);
  return { result, json: JSON.stringify(result.ping) };
}

/** The fast path, falling back to the general path. */
export async function convertText(text: string, revisions: RevisionSource): Promise<TextConversion> {
  return (await convertTextFast(text, revisions)) ?? convertTextGeneral(text, revisions);
}

const encoder = new TextEncoder();
const hasLoneSurrogate = /\p{Surrogate}/u;

/**
 * The UTF-8 bytes of the text, exactly: undefined when the text holds a lone
 * surrogate (which UTF-8 cannot encode; JSON.stringify writes it escaped).
 */
function utf8Exactly(text: string): Uint8Array | undefined {
  const length = Buffer.byteLength(text, 'utf8');
  // Every UTF-16 unit is one byte: ASCII, nothing to check.
  if (length !== text.length && hasLoneSurrogate.test(text)) return undefined;
  const bytes = Buffer.allocUnsafe(length);
  encoder.encodeInto(text, bytes);
  return bytes;
}

/** The fast path alone: undefined when the general path must do it. Rejects only as the general path would. */
export async function convertTextFast(text: string, revisions: RevisionSource): Promise<TextConversion | undefined> {
  const bytes = utf8Exactly(text);
  if (bytes === undefined) return undefined;
  const scanned = scanPing(text, bytes);
  if (scanned === undefined) return undefined;
  let ping: Record<string, unknown>;
  try {
    // The scanner validated the histograms; JSON.parse validates the rest.
    ping = JSON.parse(scanned.rest) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const container = scanned.inPayload ? (ping.payload as Record<string, unknown>) : ping;
  container.histograms = scanned.histograms;
  let result: ConversionResult;
  try {
    result = await convertPing(ping, revisions);
  } catch (error) {
    if (error instanceof ConversionFallback) return undefined;
    throw error;
  }
  return { result, json: stringifySpliced(result.ping) };
}

/**
 * JSON.stringify of a converted ping whose histograms (top-level or in
 * `payload`) are a RawJson: the same bytes, as JSON.stringify of an object
 * is its own enumerable keys in Object.keys order, each `key:value`, with
 * keys whose value stringifies to undefined left out.
 */
function stringifySpliced(ping: Record<string, unknown>): string {
  const parts: string[] = ['{'];
  const keys = Object.keys(ping);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as string;
    const value = ping[key];
    let json: string | undefined;
    if (value instanceof RawJson) {
      json = value.json;
    } else if (key === 'payload' && typeof value === 'object' && value !== null && (value as Record<string, unknown>).histograms instanceof RawJson) {
      json = stringifySpliced(value as Record<string, unknown>);
    } else {
      // undefined for what JSON.stringify leaves out (not that JSON.parse yields any).
      json = JSON.stringify(value);
    }
    if (json === undefined) continue;
    parts.push(parts.length === 1 ? '' : ',', JSON.stringify(key), ':', json);
  }
  parts.push('}');
  return parts.join('');
}
