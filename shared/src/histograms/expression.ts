import { DefinitionError } from '../errors.js';

/**
 * Numbers in Histograms.json are JSON numbers or strings that the build system
 * pasted into C++ source: integers, `*`/`+` arithmetic and a couple of C++
 * constants. The file comes from a remote server, so it is evaluated by this
 * tiny parser, never by `eval`.
 *
 * Grammar (whitespace allowed between tokens):
 *   sum     := product ('+' product)*
 *   product := atom ('*' atom)*
 *   atom    := digits | CONSTANT
 */

/** The C++ constants used as sizes in real revisions, with their values of that era. */
const CONSTANTS: ReadonlyMap<string, number> = new Map([
  ['JS::gcreason::NUM_TELEMETRY_REASONS', 101],
  ['mozilla::StartupTimeline::MAX_EVENT_ID', 12],
]);

type Token = { kind: 'number'; value: number } | { kind: 'op'; op: '*' | '+' };

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

function isDigit(code: number): boolean {
  return code >= DIGIT_0 && code <= DIGIT_9;
}

/** Characters of a C++ qualified identifier (`A::b_c1`). */
function isIdentifierChar(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x5f || // _
    code === 0x3a || // :
    isDigit(code)
  );
}

function tokenize(text: string, fail: (why: string) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === SPACE || code === TAB || code === LF || code === CR) {
      i++;
    } else if (code === 0x2a || code === 0x2b) {
      tokens.push({ kind: 'op', op: code === 0x2a ? '*' : '+' });
      i++;
    } else if (isDigit(code)) {
      const start = i;
      while (i < text.length && isDigit(text.charCodeAt(i))) i++;
      const value = Number(text.slice(start, i));
      if (!Number.isSafeInteger(value)) fail(`integer ${text.slice(start, i)} is too large`);
      tokens.push({ kind: 'number', value });
    } else if (isIdentifierChar(code)) {
      const start = i;
      while (i < text.length && isIdentifierChar(text.charCodeAt(i))) i++;
      const name = text.slice(start, i);
      const value = CONSTANTS.get(name);
      if (value === undefined) fail(`unknown constant ${JSON.stringify(name)}`);
      tokens.push({ kind: 'number', value });
    } else {
      fail(`unexpected character ${JSON.stringify(text[i])}`);
    }
  }
  return tokens;
}

function checkedResult(value: number, fail: (why: string) => never): number {
  // Past 2^53 the arithmetic silently loses precision: refuse rather than guess.
  if (!Number.isSafeInteger(value)) fail('value is too large');
  return value;
}

function evaluateTokens(tokens: readonly Token[], fail: (why: string) => never): number {
  if (tokens.length === 0) fail('empty expression');
  let position = 0;

  const atom = (): number => {
    const token = tokens[position];
    if (token === undefined) fail('expression ends after an operator');
    if (token.kind !== 'number') fail(`unexpected operator ${token.op}`);
    position++;
    return token.value;
  };

  const product = (): number => {
    let value = atom();
    for (let token = tokens[position]; token?.kind === 'op' && token.op === '*'; token = tokens[position]) {
      position++;
      value = checkedResult(value * atom(), fail);
    }
    return value;
  };

  let total = product();
  for (let token = tokens[position]; token?.kind === 'op' && token.op === '+'; token = tokens[position]) {
    position++;
    total = checkedResult(total + product(), fail);
  }
  // A number directly after a number ("16 1024") is left unconsumed: refuse it.
  if (position !== tokens.length) fail('unexpected token after a complete expression');
  return total;
}

/**
 * The value of a numeric field of a histogram definition: a non-negative safe
 * integer. Throws DefinitionError naming the histogram and the field for
 * anything else (fractions, negatives, NaN, empty strings, unknown names).
 */
export function evaluateDefinitionNumber(value: unknown, field: string, histogram: string): number {
  const fail = (why: string): never => {
    throw new DefinitionError(`field ${field}: ${why} (got ${describe(value)})`, histogram);
  };
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) fail('not a non-negative integer');
    return value;
  }
  if (typeof value !== 'string') return fail('not a number or a string');
  return evaluateTokens(tokenize(value, fail), fail);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (value === undefined) return 'nothing';
  return Array.isArray(value) ? 'an array' : typeof value;
}
