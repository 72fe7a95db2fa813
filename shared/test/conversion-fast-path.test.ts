import { gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertPing } from '../src/conversion/convert-ping.js';
import { convertText, convertTextFast, convertTextGeneral } from '../src/conversion/fast-path.js';
import { outcome } from './support/conversion-outcome.js';
import { parseHistogramDefinitions } from '../src/histograms/definitions.js';
import { parsePackedBuffer } from '../src/packed/packed-reader.js';
import { FixtureRevisionSource, RELEASE_23_URL } from './support/fixture-revisions.js';
import { fixturePath } from '../../test/support/fixtures.js';

/**
 * The fast path (histograms scanned from the text, fast-path.ts) must give
 * exactly what the general path (JSON.parse, convertPing, JSON.stringify)
 * gives: the same JSON bytes, info, dropped list and count, or the same
 * error type and message. These are the cases it handles and the ones it
 * must hand back; conversion-fast-path-fuzz.test.ts mutates the real ping.
 */

const revisions = new FixtureRevisionSource();
const NAME = 'DOM_TIMERS_FIRED_PER_NATIVE_TIMEOUT';

/** Both paths agree on `text`; returns whether the fast path alone could do it. */
async function expectSame(text: string): Promise<boolean> {
  const general = await outcome(() => convertTextGeneral(text, revisions));
  expect(await outcome(() => convertText(text, revisions))).toEqual(general);
  const fast = await outcome(() => convertTextFast(text, revisions));
  if (fast !== undefined) expect(fast).toEqual(general);
  return fast !== undefined && !('error' in fast);
}

/** Applies `edit` to the parts of a JSON text that are not inside strings. */
function outsideStrings(text: string, edit: (part: string) => string): string {
  return text
    .split(/("(?:[^"\\]|\\.)*")/)
    .map((part, i) => (i % 2 === 0 ? edit(part) : part))
    .join('');
}

const realText = (() => {
  const { records } = parsePackedBuffer(readFileSync(fixturePath('pings', 'telemetry1.packed')));
  return gunzipSync((records[0] as { body: Uint8Array }).body).toString('utf8');
})();

const SPEC_HISTOGRAM =
  '{"range":[1,3000],"bucket_count":10,"histogram_type":0,"values":{"0":0,"1":1232,"3":7,"8":2,"414":1,"1114":0},"sum":1279,"log_sum":873.47,"log_sum_squares":624.02}';
const BASE = `{"ver":1,"info":{"revision":"${RELEASE_23_URL}","reason":"idle-daily"},"histograms":{"${NAME}":${SPEC_HISTOGRAM},"UNKNOWN_ONE":{"values":{"x":"y"}},"STARTUP_${NAME}":{"values":{"3":1},"sum":3}}}`;

describe('the conversion fast path', () => {
  it('converts the real ping exactly as JSON.stringify(convertPing(JSON.parse(text)))', async () => {
    expect(await expectSame(realText)).toBe(true);
    const reference = await convertPing(JSON.parse(realText), revisions);
    expect((await convertText(realText, revisions)).json).toBe(JSON.stringify(reference.ping));
  });

  it('converts the spec example', async () => {
    expect(await expectSame(BASE)).toBe(true);
    expect((await convertText(BASE, revisions)).json).toContain(`"${NAME}":[0,1232,7,2,0,0,0,1,0,0,1279,873.47,624.02,-1,-1]`);
  });

  it.each([
    ['indented with spaces', (t: string) => JSON.stringify(JSON.parse(t), null, 2)],
    ['indented with tabs and CRLF', (t: string) => JSON.stringify(JSON.parse(t), null, '\t').replace(/\n/g, '\r\n')],
    ['spaces around every token', (t: string) => ` ${outsideStrings(t, (part) => part.replace(/([{}[\],:])/g, ' $1 '))} `],
  ])('handles whitespace: %s', async (_, reshape) => {
    expect(await expectSame(reshape(BASE))).toBe(true);
    expect(await expectSame(reshape(realText))).toBe(true);
  });

  it('converts a unified ping (payload.histograms) with non-ASCII text around it', async () => {
    const classic = JSON.parse(realText) as { info: Record<string, unknown>; histograms: unknown; simpleMeasurements: unknown };
    const unified = {
      version: 4,
      type: 'main',
      application: { name: 'Firefóx 😀', channel: 'release', version: '23.0.1', buildId: '20130814063812' },
      payload: { info: { ...classic.info, addons: 'Wikipédia, 日本語, 😀' }, simpleMeasurements: classic.simpleMeasurements, histograms: classic.histograms, after: 'ü' },
      clientId: 'é',
    };
    expect(await expectSame(JSON.stringify(unified))).toBe(true);
    expect(await expectSame(JSON.stringify(unified, null, 1))).toBe(true);
  });

  it('converts the real unified ping (unicode.packed) against a revision the fixtures hold', async () => {
    const { records } = parsePackedBuffer(readFileSync(fixturePath('pings', 'unicode.packed')));
    const text = gunzipSync((records[0] as { body: Uint8Array }).body).toString('utf8');
    expect(await expectSame(text)).toBe(false); // missing_revision, either way
    expect(await expectSame(text.replace(/"revision":"[^"]*"/, '"revision":"https://hg.mozilla.org/mozilla-central/rev/ad0ae007aa9e"'))).toBe(true);
  });

  it('writes every histogram the revision defines, and their STARTUP_ copies, empty (output past its first buffer)', async () => {
    const definitions = await revisions.get(RELEASE_23_URL);
    const histograms = Object.fromEntries([...definitions.names()].flatMap((n) => [[n, { values: {} }], [`STARTUP_${n}`, { values: { 0: 1 }, sum: 0.1 }]]));
    const text = JSON.stringify({ ver: 1, info: { revision: RELEASE_23_URL }, histograms });
    expect(await expectSame(text)).toBe(true);
    expect((await convertText(text, revisions)).json.length).toBeGreaterThan(1 << 17);
  });

  it('writes megabytes of buckets (10,000-bucket histograms) and then small pings again', async () => {
    const table = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`H${i}`, { kind: 'linear', high: 20_000, n_buckets: 10_000 }]));
    const wide = parseHistogramDefinitions(JSON.stringify(table));
    const source = { get: () => Promise.resolve(wide) };
    const histograms = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`H${i}`, { values: { 0: i, [String(wide.get('H0')?.bounds[9_999])]: -i } }]));
    const text = JSON.stringify({ ver: 1, info: { revision: RELEASE_23_URL }, histograms });
    const general = await convertTextGeneral(text, source);
    const fast = await convertTextFast(text, source);
    expect(fast?.json).toBe(general.json);
    expect(general.json.length).toBeGreaterThan(6_000_000);
    expect(await expectSame(BASE)).toBe(true);
  });

  const FAST: [string, (t: string) => string][] = [
    ['counts spelt 1232.0, 7e0, 20e-1, -0', (t) => t.replace('"1":1232', '"1":1232.0').replace('"3":7', '"3":7e0').replace('"8":2', '"8":20e-1').replace('"414":1', '"414":-0')],
    ['a negative count', (t) => t.replace('"3":7', '"3":-7')],
    ['the largest safe count', (t) => t.replace('"3":7', '"3":9007199254740991')],
    ['statistics not written as String() writes them', (t) => t.replace('"sum":1279', '"sum":1279.50').replace('"log_sum":873.47', '"log_sum":8.7347E2')],
    ['tiny, negative-zero and 17-digit statistics', (t) => t.replace('"sum":1279', '"sum":0.0000001').replace('"log_sum":873.47', '"log_sum":-0').replace('624.02', '624.0200000000001')],
    ['statistics at the canonical limits', (t) => t.replace('"sum":1279', '"sum":0.000001').replace('"log_sum":873.47', '"log_sum":123456789012345').replace('624.02', '-0.5')],
    ['null and absent statistics', (t) => t.replace('"sum":1279', '"sum":null').replace(',"log_sum_squares":624.02', '')],
    ['a repeated statistic (the last counts)', (t) => t.replace('"sum":1279', '"sum":1,"sum":1279')],
    ['keys in another order', (t) => t.replace('"0":0,"1":1232,"3":7', '"3":7,"1":1232,"0":0')],
    ['a repeated key (the last counts)', (t) => t.replace('"3":7', '"3":5,"3":7')],
    ['an escaped histogram name', (t) => t.replace(`"${NAME}"`, `"\\u0044${NAME.slice(1)}"`)],
    ['non-ASCII and escaped unknown names', (t) => t.replace('UNKNOWN_ONE', 'UNKNÖWN_😀_\\ud800_\\n')],
    ['__proto__ as an unknown histogram', (t) => t.replace('UNKNOWN_ONE', '__proto__')],
    ['junk in an unknown histogram', (t) => t.replace('{"values":{"x":"y"}}', '[1,{"a":[true,false,null,"\\"",-1.5e-3]},{}]')],
    ['unknown fields in a known histogram', (t) => t.replace('"range":[1,3000]', '"range":[1,3000],"extra":{"a":[[[]]]},"value":1')],
    ['an empty values object', (t) => t.replace('{"3":1}', '{}')],
    ['an empty histograms object', () => `{"ver":1,"info":{"revision":"${RELEASE_23_URL}"},"histograms":{}}`],
    ['a repeated top-level key other than histograms', (t) => t.replace('{"ver":1,', '{"ver":1,"x":1,"x":{"y":2},')],
  ];
  it.each(FAST)('handles %s', async (_, mutate) => {
    expect(await expectSame(mutate(BASE))).toBe(true);
  });

  const GENERAL: [string, (t: string) => string][] = [
    ['a non-canonical key "01"', (t) => t.replace('"1":1232', '"01":1232')],
    ['keys "-0", "1.0", "" and " 1"', (t) => t.replace('"1":1232', '"-0":1,"1.0":2,"":3," 1":4')],
    ['an escaped key \\u0031 (which is "1")', (t) => t.replace('"1":1232', '"\\u0031":1232')],
    ['a key that is not a bound', (t) => t.replace('"3":7', '"4":7')],
    ['a key past the last bound', (t) => t.replace('"3":7', '"999999999999999":7')],
    ['a fractional count', (t) => t.replace('"3":7', '"3":7.5')],
    ['an unsafe count', (t) => t.replace('"3":7', '"3":9007199254740992')],
    ['an infinite count', (t) => t.replace('"3":7', '"3":1e999')],
    ['counts of other types', (t) => t.replace('"3":7', '"3":"7"').replace('"8":2', '"8":null')],
    ['a repeated key whose first count is bad', (t) => t.replace('"3":7', '"3":"x","3":7')],
    ['an infinite statistic', (t) => t.replace('"sum":1279', '"sum":-1e999')],
    ['statistics of other types', (t) => t.replace('"sum":1279', '"sum":"1279"').replace('"log_sum":873.47', '"log_sum":true')],
    ['values that are not an object', (t) => t.replace('{"3":1}', '[1]')],
    ['values missing', (t) => t.replace('"values":{"3":1},', '')],
    ['values repeated', (t) => t.replace('"values":{"3":1}', '"values":{"1":5},"values":{"3":1}')],
    ['an escaped field name', (t) => t.replace('"range"', '"r\\u0061nge"')],
    ['values escaped', (t) => t.replace('"values":{"3":1}', '"v\\u0061lues":{"3":1}')],
    ['a histogram that is not an object', (t) => t.replace(SPEC_HISTOGRAM, '[1,2]')],
    ['a repeated histogram name', (t) => t.replace('"UNKNOWN_ONE"', `"${NAME}"`)],
    ['a repeated histogram name, both well formed', (t) => t.replace('"UNKNOWN_ONE":{"values":{"x":"y"}}', `"${NAME}":{"values":{"1":5}}`)],
    ['a repeated unknown name', (t) => t.replace('"UNKNOWN_ONE":', '"UNKNOWN_ONE":1,"UNKNOWN_ONE":')],
    ['array-index names', (t) => t.replace('UNKNOWN_ONE', '12').replace(`"STARTUP_${NAME}"`, '"4294967294"')],
    ['histograms that are not an object', () => `{"ver":1,"info":{"revision":"${RELEASE_23_URL}"},"histograms":[]}`],
    ['histograms repeated', (t) => t.replace('{"ver":1,', '{"ver":1,"histograms":{},')],
    ['histograms escaped and repeated', (t) => `${t.slice(0, -1)},"histogr\\u0061ms":{}}`],
    ['an escaped histograms key', (t) => t.replace('"histograms"', '"histogr\\u0061ms"')],
    ['no info', (t) => t.replace(/"info":\{[^}]*\},/, '')],
    ['an unknown revision', (t) => t.replace('a55c55edf302', 'ffffffffffff')],
    ['ver 2 (stored as is)', (t) => t.replace('"ver":1', '"ver":2')],
    ['ver 3 (stored as is)', (t) => t.replace('"ver":1', '"ver":3')],
    ['a unified crash ping (payload kept)', () => `{"version":4,"type":"crash","application":{},"payload":{"info":{},"histograms":${BASE.slice(BASE.indexOf('"histograms":') + 13, -1)}}}`],
    ['histograms both at the top and in payload', (t) => t.replace('{"ver":1,', '{"ver":1,"payload":{"histograms":{}},')],
    ['deep junk in an unknown histogram', (t) => t.replace('{"values":{"x":"y"}}', `${'['.repeat(100_000)}${']'.repeat(100_000)}`)],
    ['a leading BOM', (t) => `\uFEFF${t}`],
    ['trailing garbage', (t) => `${t} x`],
    ['two pings', (t) => t + t],
    ['a truncated ping', (t) => t.slice(0, 200)],
    ['a raw control character in a name', (t) => t.replace('UNKNOWN_ONE', 'UNKNOWN\tONE')],
    ['a bad escape', (t) => t.replace('UNKNOWN_ONE', 'UNKNOWN\\xONE')],
    ['a lone surrogate in the text', (t) => t.replace('UNKNOWN_ONE', 'UNKNOWN\ud800ONE')],
    ['a number with a leading zero', (t) => t.replace('"3":7', '"3":07')],
    ['nothing but an array', () => '[]'],
    ['an empty object', () => '{}'],
  ];
  it.each(GENERAL)('leaves %s to the general path', async (_, mutate) => {
    expect(await expectSame(mutate(BASE))).toBe(false);
  });
});
