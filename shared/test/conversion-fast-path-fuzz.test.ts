import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertText, convertTextFast, convertTextGeneral } from '../src/conversion/fast-path.js';
import { outcome } from './support/conversion-outcome.js';
import { parsePackedBuffer } from '../src/packed/packed-reader.js';
import { FixtureRevisionSource } from './support/fixture-revisions.js';
import { fixturePath } from '../../test/support/fixtures.js';

/**
 * Fuzzing the conversion fast path against the general path on mutations
 * of the real ping (telemetry1.packed): mutations of the parsed ping
 * (every rule of SPEC 4.2 broken somewhere), serialised compact or
 * indented, then mutations of the text (numbers respelt, characters
 * escaped, keys repeated, random edits). Both paths must give the same
 * JSON, info, dropped list and count, or the same error type and message.
 */

const revisions = new FixtureRevisionSource();
const realText = (() => {
  const { records } = parsePackedBuffer(readFileSync(fixturePath('pings', 'telemetry1.packed')));
  return gunzipSync((records[0] as { body: Uint8Array }).body).toString('utf8');
})();
type Json = Record<string, unknown>;
const real = JSON.parse(realText) as Json & { histograms: Record<string, Json & { values: Json }> };
const NAMES = Object.keys(real.histograms);
const STATISTICS = ['sum', 'log_sum', 'log_sum_squares', 'sum_squares_lo', 'sum_squares_hi'];

/** Both paths agree; returns whether the fast path alone converted it. */
async function agree(text: string): Promise<boolean> {
  // Conversions only queue microtasks: let the test runner's own messages through.
  await new Promise((resolve) => setImmediate(resolve));
  const general = await outcome(() => convertTextGeneral(text, revisions));
  expect(await outcome(() => convertText(text, revisions))).toEqual(general);
  const fast = await outcome(() => convertTextFast(text, revisions));
  if (fast !== undefined) expect(fast).toEqual(general);
  return fast !== undefined && !('error' in fast);
}

const json = fc.jsonValue({ maxDepth: 2 });
const key = fc.oneof(
  fc.constantFrom('0', '1', '2', '3', '8', '14', '414', '1114', '3000', '01', '-1', '-0', '1.0', '1e1', '', ' 1', '999999999999999999'),
  fc.nat(100_000).map(String),
  fc.string({ maxLength: 4 }),
);
const count = fc.oneof(
  { arbitrary: fc.integer(), weight: 4 },
  { arbitrary: fc.constantFrom(-0, 2 ** 53 - 1, 2 ** 53, 1.5, -7, 1e300), weight: 2 },
  { arbitrary: fc.oneof(fc.double(), fc.string({ maxLength: 3 }), fc.constant(null), json), weight: 1 },
);
const statistic = fc.oneof(
  fc.double({ noNaN: true }),
  fc.integer(),
  fc.constantFrom(null, -0, -1, 1e-7, 0.000001, 1e21, 1e-300, 0.1 + 0.2, 123456789012345.6),
  fc.string({ maxLength: 3 }),
  json,
);
const name = fc.oneof(
  fc.constantFrom(...NAMES),
  fc.constantFrom(...NAMES).map((n) => `STARTUP_${n}`),
  fc.constantFrom('UNKNOWN', '__proto__', '0', '123', '4294967294', '4294967295', '01', 'é😀', '\ud800', 'a"b\\c\n', ''),
  fc.string({ maxLength: 6 }),
);

type Mutation = (ping: Json) => void;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const at = (ping: Json, h: number): Json | undefined => {
  const histograms = ping.histograms;
  if (!isObject(histograms)) return undefined;
  const value = histograms[NAMES[h % NAMES.length] as string];
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
};
const valuesAt = (ping: Json, h: number): Json | undefined => {
  const values = at(ping, h)?.values;
  return typeof values === 'object' && values !== null && !Array.isArray(values) ? (values as Json) : undefined;
};
const h = fc.nat();
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(h, key, count).map(([i, k, c]): Mutation => (p) => void (valuesAt(p, i) && ((valuesAt(p, i) as Json)[k] = c))),
  fc.tuple(h, key).map(([i, k]): Mutation => (p) => {
    const values = valuesAt(p, i);
    const first = values && Object.keys(values)[0];
    if (values && first !== undefined) {
      values[k] = values[first];
      if (k !== first) delete values[first];
    }
  }),
  fc.tuple(h, fc.constantFrom(...STATISTICS), statistic).map(([i, s, v]): Mutation => (p) => void (at(p, i) && ((at(p, i) as Json)[s] = v))),
  fc.tuple(h, fc.constantFrom(...STATISTICS, 'values', 'range')).map(([i, field]): Mutation => (p) => void delete at(p, i)?.[field]),
  fc.tuple(h, json).map(([i, v]): Mutation => (p) => void (at(p, i) && ((at(p, i) as Json).values = v))),
  fc.tuple(h, json).map(([i, v]): Mutation => (p) => void (isObject(p.histograms) && (p.histograms[NAMES[i % NAMES.length] as string] = v as Json))),
  fc.tuple(name, fc.oneof(h, json)).map(([n, v]): Mutation => (p) => {
    if (isObject(p.histograms)) p.histograms[n] = typeof v === 'number' ? (structuredClone(at(real, v)) ?? {}) : v;
  }),
  fc.tuple(fc.constantFrom('ver', 'info', 'histograms', 'extra'), json).map(([k, v]): Mutation => (p) => void (p[k] = v)),
  fc.constantFrom<Mutation>(
    (p) => void delete p.info,
    (p) => void delete p.histograms,
    (p) => void (isObject(p.info) && (p.info.revision = 'https://hg.mozilla.org/mozilla-central/rev/ad0ae007aa9e')),
    (p) => void (isObject(p.info) && (p.info.revision = 'nonsense')),
    (p) => void (isObject(p.info) && (p.info = { ...p.info, note: 'Wikipédia 😀 日本' })),
    (p) => {
      // As a unified ping: payload.histograms.
      const { histograms, info, ...rest } = p;
      for (const k of Object.keys(p)) delete p[k];
      Object.assign(p, { version: 4, type: 'saved-session', application: { name: 'Firefóx' }, payload: { info, ...rest, histograms } });
    },
  ),
);

/** FUZZ_RUNS=5000 for a longer search. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const TIMEOUT_MS = Math.max(60_000, RUNS * 100);
const INDENTS = ['', '', '', ' ', '\t', '\r\n'];
const STRING_OR_NOT = /("(?:[^"\\]|\\.)*")/;

/** Spellings of a number token, all valid JSON: the first four keep its value, the others change it. */
const SPELLINGS: ((t: string) => string)[] = [
  (t) => (/[eE]/.test(t) ? t : `${t}e0`),
  (t) => (/[eE]/.test(t) ? t : t.includes('.') ? `${t}0` : `${t}.0`),
  (t) => (/[eE]/.test(t) ? t : `${t}E-00`),
  (t) => (/[eE]/.test(t) ? t : `${t}0e-1`),
  (t) => (/[.eE]/.test(t) ? t : `${t}.5`),
  (t) => (/[eE]/.test(t) ? t : `${t}e999`),
  (t) => (t.startsWith('-') ? t.slice(1) : `-${t}`),
  (t) => (/^-?\d+$/.test(t) ? t.replace(/^(-?)/, '$10.00000') : t),
  (t) => (/^-?\d+$/.test(t) ? t.replace(/^(-?)/, '$10.000000') : t),
  (t) => (/[eE]/.test(t) ? t : t.includes('.') ? `${t}00000000000001` : `${t}.00000000000001`),
];

/** Where respelt numbers are: anywhere outside strings, only statistics, or only bucket counts. */
const NUMBER_PLACES = [
  /-?\d[\d.eE+-]*/g,
  /(?<="(?:sum|log_sum|log_sum_squares|sum_squares_lo|sum_squares_hi)":\s*)(-?\d[\d.eE+-]*)/g,
  /(?<="\d+":\s*)(-?\d[\d.eE+-]*)/g,
];

/** The numbers at `place` whose index is `first` modulo `stride`, respelt by `how`. */
function respell(text: string, place: number, first: number, stride: number, how: number): string {
  const parts = text.split(STRING_OR_NOT);
  let seen = 0;
  const spell = SPELLINGS[how % SPELLINGS.length] as (t: string) => string;
  const pattern = NUMBER_PLACES[place % NUMBER_PLACES.length] as RegExp;
  if (place % NUMBER_PLACES.length !== 0) return text.replace(pattern, (t) => (seen++ % stride === first % stride ? spell(t) : t));
  return parts.map((part, i) => (i % 2 === 1 ? part : part.replace(pattern, (t) => (seen++ % stride === first % stride ? spell(t) : t)))).join('');
}

/** One character of one string written as a \u escape. */
function escapeOne(text: string, pick: number, offset: number): string {
  const parts = text.split(STRING_OR_NOT);
  const strings = Math.floor(parts.length / 2);
  if (strings === 0) return text;
  const i = 2 * (pick % strings) + 1;
  const string = parts[i] as string;
  if (string.length <= 2) return text;
  const j = 1 + (offset % (string.length - 2));
  parts[i] = `${string.slice(0, j)}\\u${string.charCodeAt(j).toString(16).padStart(4, '0')}${string.slice(j + 1)}`;
  return parts.join('');
}

/** A member repeated before one of the keys: `"key":junk,"key":...`. */
function repeatKey(text: string, pick: number, junk: string): string {
  const keys = [...text.matchAll(/"([^"\\]*)":/g)];
  const match = keys[pick % keys.length];
  if (match === undefined) return text;
  return `${text.slice(0, match.index)}"${match[1] as string}":${junk},${text.slice(match.index)}`;
}

const respelling = fc
  .tuple(fc.nat(NUMBER_PLACES.length - 1), fc.nat(), fc.integer({ min: 1, max: 300 }), fc.nat(SPELLINGS.length - 1))
  .map(([place, first, stride, how]) => (t: string) => respell(t, place, first, stride, how));

const textMutation = fc.oneof(
  { arbitrary: respelling, weight: 2 },
  { arbitrary: fc.constant((t: string) => t), weight: 3 },
  { arbitrary: fc.tuple(fc.nat(), fc.nat()).map(([p, w]) => (t: string) => respell(t, 0, p, 1_000_000, w)), weight: 2 },
  { arbitrary: fc.tuple(fc.nat(), fc.nat()).map(([p, o]) => (t: string) => escapeOne(t, p, o)), weight: 2 },
  { arbitrary: fc.tuple(fc.nat(), fc.constantFrom('0', '{}', '{"values":{}}', '{"1":1}', 'null')).map(([p, j]) => (t: string) => repeatKey(t, p, j)), weight: 2 },
  {
    arbitrary: fc.tuple(fc.nat(), fc.constantFrom('insert', 'delete', 'replace'), fc.constantFrom(...'{}[]":,\\0123456789eE.-+ \tnultrfa\u00e9\ud83d')).map(
      ([p, op, c]) =>
        (t: string) => {
          const i = p % t.length;
          return t.slice(0, i) + (op === 'delete' ? '' : c) + t.slice(op === 'insert' ? i : i + 1);
        },
    ),
    weight: 2,
  },
);

describe('the conversion fast path, fuzzed against the general path on the real ping', () => {
  it('agrees on numbers respelt', async () => {
    let fast = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(respelling, { minLength: 1, maxLength: 3 }), async (edits) => {
        let text = realText;
        for (const edit of edits) text = edit(text);
        if (await agree(text)) fast++;
      }),
      { numRuns: RUNS },
    );
    if (process.env.FUZZ_RUNS) console.log(`fast path on ${fast} of ${RUNS} respellings`);
    expect(fast).toBeGreaterThan(RUNS / 10);
  }, TIMEOUT_MS);

  it('agrees on mutations of the parsed ping, compact or indented', async () => {
    let fast = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { maxLength: 4 }), fc.constantFrom(...INDENTS), async (mutations, indent) => {
        const ping = structuredClone(real);
        for (const mutate of mutations) mutate(ping);
        if (await agree(JSON.stringify(ping, null, indent))) fast++;
      }),
      { numRuns: RUNS },
    );
    // The fast path must be doing the work in a good share of the runs, or the property says little.
    if (process.env.FUZZ_RUNS) console.log(`fast path on ${fast} of ${RUNS} parsed-ping mutations`);
    expect(fast).toBeGreaterThan(RUNS / 5);
  }, TIMEOUT_MS);

  it('agrees on mutations of the text', async () => {
    let fast = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { maxLength: 2 }), fc.constantFrom(...INDENTS), fc.array(textMutation, { minLength: 1, maxLength: 3 }), async (mutations, indent, edits) => {
        const ping = structuredClone(real);
        for (const mutate of mutations) mutate(ping);
        let text = JSON.stringify(ping, null, indent);
        for (const edit of edits) text = edit(text);
        if (await agree(text)) fast++;
      }),
      { numRuns: RUNS },
    );
    if (process.env.FUZZ_RUNS) console.log(`fast path on ${fast} of ${RUNS} text mutations`);
    expect(fast).toBeGreaterThan(RUNS / 10);
  }, TIMEOUT_MS);
});
