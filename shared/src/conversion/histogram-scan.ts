import { scanHistogram } from './histogram-object-scan.js';
import { COLON, DIGIT_0, DIGIT_9, JsonCursor, LBRACE, RBRACE, SCAN_BAIL, asciiBytes } from './json-scan.js';
import { STATISTIC_COUNT, ScannedHistograms } from './scanned-histograms.js';

/**
 * The fast path's view of a ping's JSON text: the whole text validated as
 * JSON, and its `histograms` object (top-level, or `payload.histograms` of
 * a unified ping) scanned into a ScannedHistograms instead of being
 * materialised as ~1,000 V8 objects with dictionary elements.
 *
 * Returns undefined, so the caller takes the general path, whenever the
 * text is not in the shape this handles exactly: invalid JSON, no
 * histograms object, an escaped or repeated key at the levels that lead to
 * it (JSON.parse keeps the last of repeated keys), a repeated or array-index
 * histogram name (JSON.parse reorders those), nesting deeper than
 * MAX_SKIP_DEPTH.
 */

export interface ScannedPing {
  /** The ping's text with the histograms object replaced by `0`: JSON.parse of it gives the rest of the ping. */
  readonly rest: string;
  /** True for `payload.histograms`, false for top-level `histograms`. */
  readonly inPayload: boolean;
  readonly histograms: ScannedHistograms;
}

interface Span {
  /** Offsets in the text (UTF-16 units), not in the bytes. */
  start: number;
  end: number;
  histograms: ScannedHistograms;
}

const HISTOGRAMS = asciiBytes('histograms');
const PAYLOAD = asciiBytes('payload');

/** `bytes` must be exactly the UTF-8 encoding of `text` (which must therefore be well formed). */
export function scanPing(text: string, bytes: Uint8Array): ScannedPing | undefined {
  const cursor = new JsonCursor(bytes, text);
  let found: { top: Span | undefined; payload: Span | undefined };
  try {
    found = scanTop(cursor);
  } catch (error) {
    if (error === SCAN_BAIL) return undefined;
    throw error;
  }
  const { top, payload } = found;
  // Both at once: which one is converted depends on the version; leave that case to the general path.
  const span = top === undefined ? payload : payload === undefined ? top : undefined;
  if (span === undefined) return undefined;
  return { rest: `${text.slice(0, span.start)}0${text.slice(span.end)}`, inPayload: span === payload, histograms: span.histograms };
}

/** Scans the whole text: one object, whose `histograms` and `payload.histograms` are located. */
function scanTop(cursor: JsonCursor): { top: Span | undefined; payload: Span | undefined } {
  let top: Span | undefined;
  let payload: Span | undefined;
  let sawPayload = false;
  if (cursor.ws() !== LBRACE) throw SCAN_BAIL;
  cursor.pos++;
  if (cursor.ws() === RBRACE) throw SCAN_BAIL;
  do {
    const keyStart = cursor.pos;
    cursor.string();
    if (cursor.special) throw SCAN_BAIL;
    const isHistograms = cursor.stringIs(keyStart, HISTOGRAMS);
    const isPayload = !isHistograms && cursor.stringIs(keyStart, PAYLOAD);
    cursor.punct(COLON);
    if (isHistograms) {
      if (top !== undefined) throw SCAN_BAIL;
      top = scanHistogramsValue(cursor);
    } else if (isPayload) {
      if (sawPayload) throw SCAN_BAIL;
      sawPayload = true;
      if (cursor.bytes[cursor.pos] === LBRACE) payload = scanPayload(cursor);
      else cursor.skipValue(2);
    } else {
      cursor.skipValue(2);
    }
  } while (cursor.next(RBRACE));
  cursor.ws();
  if (cursor.pos !== cursor.bytes.length) throw SCAN_BAIL;
  return { top, payload };
}

/** A `payload` object: scanned for its `histograms`, the rest validated. */
function scanPayload(cursor: JsonCursor): Span | undefined {
  let span: Span | undefined;
  cursor.pos++;
  if (cursor.ws() === RBRACE) {
    cursor.pos++;
    return undefined;
  }
  do {
    const keyStart = cursor.pos;
    cursor.string();
    if (cursor.special) throw SCAN_BAIL;
    const isHistograms = cursor.stringIs(keyStart, HISTOGRAMS);
    cursor.punct(COLON);
    if (isHistograms) {
      if (span !== undefined) throw SCAN_BAIL;
      span = scanHistogramsValue(cursor);
    } else {
      cursor.skipValue(3);
    }
  } while (cursor.next(RBRACE));
  return span;
}

/** The histograms object (anything else is the general path's to refuse). */
function scanHistogramsValue(cursor: JsonCursor): Span {
  const start = cursor.pos - cursor.delta;
  if (cursor.bytes[cursor.pos] !== LBRACE) throw SCAN_BAIL;
  const histograms = new ScannedHistograms(cursor.bytes);
  const seen = new Set<string>();
  cursor.pos++;
  if (cursor.ws() === RBRACE) {
    cursor.pos++;
    return { start, end: cursor.pos - cursor.delta, histograms };
  }
  do {
    const nameStart = cursor.pos;
    const nameDelta = cursor.delta;
    cursor.string();
    const name = cursor.special ? (JSON.parse(cursor.textFrom(nameStart, nameDelta)) as string) : cursor.textFrom(nameStart + 1, nameDelta, 1);
    if (seen.has(name) || isArrayIndex(name)) throw SCAN_BAIL;
    seen.add(name);
    // Without escapes the submitted bytes, quotes included, are what JSON.stringify writes.
    histograms.addName(name, nameStart, cursor.pos, cursor.special ? JSON.stringify(name) : undefined, cursor.delta !== nameDelta);
    cursor.punct(COLON);
    let wellFormed = false;
    const base = histograms.statValue.length;
    for (let s = 0; s < STATISTIC_COUNT; s++) {
      histograms.statValue.push(-1);
      histograms.statStart.push(-1);
      histograms.statEnd.push(-1);
    }
    if (cursor.bytes[cursor.pos] === LBRACE) wellFormed = scanHistogram(cursor, histograms, base);
    else cursor.skipValue(3);
    histograms.wellFormed.push(wellFormed);
    histograms.entryStart.push(histograms.keys.length);
  } while (cursor.next(RBRACE));
  return { start, end: cursor.pos - cursor.delta, histograms };
}

/** Names JSON.parse would order first (canonical integers below 2^32 - 1). */
function isArrayIndex(name: string): boolean {
  const c = name.charCodeAt(0);
  if (!(c >= DIGIT_0 && c <= DIGIT_9)) return false;
  if (name.length > 10 || (c === DIGIT_0 && name.length > 1)) return false;
  for (let i = 1; i < name.length; i++) {
    const d = name.charCodeAt(i);
    if (!(d >= DIGIT_0 && d <= DIGIT_9)) return false;
  }
  return Number(name) < 4_294_967_295;
}
