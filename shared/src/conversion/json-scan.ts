/**
 * Exact JSON (RFC 8259, as JSON.parse accepts it) scanning primitives over
 * the UTF-8 bytes of a ping's text, for the conversion fast path
 * (histogram-scan.ts). Bytes, not the string: a Uint8Array loop runs about
 * twice as fast as charCodeAt on V8. They validate as they go; anything they
 * do not handle (invalid JSON, nesting past MAX_SKIP_DEPTH, end of input)
 * throws SCAN_BAIL, and the caller then takes the general JSON.parse path,
 * which decides what the input really is.
 */

/** Thrown (one shared instance, no stack capture per use) to leave the fast path. */
class ScanBail extends Error {
  override readonly name = 'ScanBail';
}
export const SCAN_BAIL = new ScanBail('not in the shape the conversion fast path handles');

/** Deeper values are left to the general path (and its depth check). */
const MAX_SKIP_DEPTH = 64;

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const MINUS = 0x2d;
export const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
export const DIGIT_9 = 0x39;
export const LBRACE = 0x7b;
export const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const DOT = 0x2e;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

/** Integers with at most this many digits are exact in a double; decimals with at most this many significant digits print as written. */
const EXACT_DIGITS = 15;

/** Byte classes inside a string: 0 plain ASCII, 1 quote, 2 backslash, 3 control (invalid), 4 UTF-8 lead, 5 UTF-8 continuation, 6 4-byte lead. */
const STRING_CLASS = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_CLASS[c] = 3;
STRING_CLASS[QUOTE] = 1;
STRING_CLASS[BACKSLASH] = 2;
for (let c = 0x80; c < 0xc0; c++) STRING_CLASS[c] = 5;
for (let c = 0xc0; c < 0xf0; c++) STRING_CLASS[c] = 4;
for (let c = 0xf0; c < 0x100; c++) STRING_CLASS[c] = 6;

const ESCAPABLE = new Set([QUOTE, BACKSLASH, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

function isHexDigit(code: number): boolean {
  return (code >= DIGIT_0 && code <= DIGIT_9) || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);
}

/**
 * A position in the UTF-8 bytes of a well-formed text, moved forward by the
 * scanning methods. `pos - delta` is the matching offset in the text.
 */
export class JsonCursor {
  pos = 0;
  /** UTF-8 bytes minus UTF-16 code units before pos (non-ASCII only occurs inside strings). */
  delta = 0;
  /** Set by string(): the last string held an escape, so its raw text is not its value. */
  special = false;
  /** Set by number(): the last number is written exactly as String() of its value writes it. */
  canonical = false;
  /** Set by number(): the last number is an integer of at most EXACT_DIGITS digits, its value in exactValue. */
  exact = false;
  exactValue = 0;
  private tokenStart = 0;
  /** The bytes, for reading 4 at a time. */
  readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly text: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Skips whitespace; returns the byte at the new position (undefined at the end). */
  ws(): number {
    const b = this.bytes;
    let p = this.pos;
    let c = b[p] as number;
    // One comparison for the common case, compact JSON.
    if (c > SPACE) return c;
    while (c === SPACE || c === LF || c === CR || c === TAB) c = b[++p] as number;
    this.pos = p;
    return c;
  }

  /** Skips whitespace, the given punctuation and whitespace; returns the byte after it. */
  punct(code: number): number {
    const b = this.bytes;
    const p = this.pos;
    if (b[p] === code) {
      // Compact JSON: no whitespace either side.
      const after = b[p + 1] as number;
      if (after > SPACE) {
        this.pos = p + 1;
        return after;
      }
    }
    if (this.ws() !== code) throw SCAN_BAIL;
    this.pos++;
    return this.ws();
  }

  /** After a member or element: `,` (returns true, positioned at the next one) or `close` (returns false, past it). */
  next(close: number): boolean {
    const b = this.bytes;
    const p = this.pos;
    const at = b[p];
    // Compact JSON: no whitespace either side.
    if (at === COMMA && (b[p + 1] as number) > SPACE) {
      this.pos = p + 1;
      return true;
    }
    if (at === close) {
      this.pos = p + 1;
      return false;
    }
    const c = this.ws();
    this.pos++;
    if (c === COMMA) {
      this.ws();
      return true;
    }
    if (c === close) return false;
    throw SCAN_BAIL;
  }

  /** Scans a string starting at its opening quote; leaves pos after the closing one. */
  string(): void {
    const b = this.bytes;
    const last = b.length - 1;
    let p = this.pos;
    if (b[p] !== QUOTE) throw SCAN_BAIL;
    let special = false;
    for (;;) {
      if (p >= last) throw SCAN_BAIL;
      const kind = STRING_CLASS[b[++p] as number] as number;
      if (kind === 0) continue;
      if (kind === 1) break;
      if (kind === 2) {
        special = true;
        if (p >= last) throw SCAN_BAIL;
        const e = b[++p] as number;
        if (e === 0x75) {
          // \uXXXX
          if (p + 4 > last) throw SCAN_BAIL;
          for (let i = 0; i < 4; i++) if (!isHexDigit(b[++p] as number)) throw SCAN_BAIL;
        } else if (!ESCAPABLE.has(e)) {
          throw SCAN_BAIL;
        }
      } else if (kind === 3) {
        throw SCAN_BAIL;
      } else if (kind === 5) {
        this.delta++;
      } else if (kind === 6) {
        // Four bytes are two UTF-16 units: three continuations counted, one given back.
        this.delta--;
      }
    }
    this.pos = p + 1;
    this.special = special;
  }

  /** Whether the string just scanned from `start` is exactly `"word"` (word in ASCII bytes). */
  stringIs(start: number, word: Uint8Array): boolean {
    if (this.pos - start !== word.length + 2 || this.special) return false;
    const b = this.bytes;
    for (let i = 0; i < word.length; i++) if (b[start + 1 + i] !== word[i]) return false;
    return true;
  }

  /** The text of what was scanned from byte `start` (with `startDelta`) to pos, less `trim` bytes. */
  textFrom(start: number, startDelta: number, trim = 0): string {
    return this.text.slice(start - startDelta, this.pos - trim - this.delta);
  }

  /**
   * Validates and skips a number, setting `canonical` and `exact`. JSON
   * grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
   */
  number(): void {
    const b = this.bytes;
    const start = this.pos;
    let p = start;
    let c = b[p] as number;
    const negative = c === MINUS;
    if (negative) c = b[++p] as number;
    let value = 0;
    let significant = 0;
    if (c === DIGIT_0) {
      c = b[++p] as number;
      if (c >= DIGIT_0 && c <= DIGIT_9) throw SCAN_BAIL;
    } else if (c >= DIGIT_1 && c <= DIGIT_9) {
      do {
        value = value * 10 + (c - DIGIT_0);
        significant++;
        c = b[++p] as number;
      } while (c >= DIGIT_0 && c <= DIGIT_9);
    } else {
      throw SCAN_BAIL;
    }
    let exact = significant <= EXACT_DIGITS;
    // String(-0) is "0".
    let canonical = exact && !(negative && significant === 0);
    if (c === DOT) {
      exact = false;
      c = b[++p] as number;
      if (!(c >= DIGIT_0 && c <= DIGIT_9)) throw SCAN_BAIL;
      let leadingZeros = 0;
      let lastDigit = c;
      do {
        if (significant === 0 && c === DIGIT_0) leadingZeros++;
        else significant++;
        lastDigit = c;
        c = b[++p] as number;
      } while (c >= DIGIT_0 && c <= DIGIT_9);
      // Printed as written: no trailing zero, digits a double tells apart, and
      // not below 1e-6 (String() switches to exponent form there).
      canonical = lastDigit !== DIGIT_0 && significant <= EXACT_DIGITS && leadingZeros <= 5;
    }
    if (c === 0x65 || c === 0x45) {
      exact = false;
      canonical = false;
      c = b[++p] as number;
      if (c === 0x2b || c === MINUS) c = b[++p] as number;
      if (!(c >= DIGIT_0 && c <= DIGIT_9)) throw SCAN_BAIL;
      do c = b[++p] as number;
      while (c >= DIGIT_0 && c <= DIGIT_9);
    }
    this.tokenStart = start;
    this.pos = p;
    this.exact = exact;
    this.canonical = canonical;
    this.exactValue = negative ? -value : value;
  }

  /** The value of the number just scanned, exactly as JSON.parse gives it. */
  numberValue(): number {
    if (this.exact) return this.exactValue;
    // A valid JSON number token, where Number() and JSON.parse agree (both correctly rounded).
    return Number(this.text.slice(this.tokenStart - this.delta, this.pos - this.delta));
  }

  /** Scans `null`, `true` or `false`; returns whether it was `null`. */
  literal(): boolean {
    const b = this.bytes;
    const p = this.pos;
    const c = b[p];
    if (c === 0x6e && b[p + 1] === 0x75 && b[p + 2] === 0x6c && b[p + 3] === 0x6c) {
      this.pos = p + 4;
      return true;
    }
    if (c === 0x74 && b[p + 1] === 0x72 && b[p + 2] === 0x75 && b[p + 3] === 0x65) this.pos = p + 4;
    else if (c === 0x66 && b[p + 1] === 0x61 && b[p + 2] === 0x6c && b[p + 3] === 0x73 && b[p + 4] === 0x65) this.pos = p + 5;
    else throw SCAN_BAIL;
    return false;
  }

  /** Validates and skips any JSON value at pos, `depth` being the nesting level of that value. */
  skipValue(depth: number): void {
    const c = this.bytes[this.pos] as number;
    if (c === QUOTE) {
      this.string();
    } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
      this.number();
    } else if (c === LBRACE) {
      if (depth >= MAX_SKIP_DEPTH) throw SCAN_BAIL;
      this.pos++;
      if (this.ws() === RBRACE) {
        this.pos++;
        return;
      }
      do {
        this.string();
        this.punct(COLON);
        this.skipValue(depth + 1);
      } while (this.next(RBRACE));
    } else if (c === LBRACKET) {
      if (depth >= MAX_SKIP_DEPTH) throw SCAN_BAIL;
      this.pos++;
      if (this.ws() === RBRACKET) {
        this.pos++;
        return;
      }
      do this.skipValue(depth + 1);
      while (this.next(RBRACKET));
    } else {
      this.literal();
    }
  }
}

/** ASCII bytes of a word, for JsonCursor.stringIs. */
export function asciiBytes(word: string): Uint8Array {
  return Uint8Array.from(word, (ch) => ch.charCodeAt(0));
}
