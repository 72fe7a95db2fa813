import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PING_DEPTH, convertPing } from '../src/conversion/convert-ping.js';
import { PingError, type PingErrorType } from '../src/errors.js';
import { FixtureRevisionSource, RELEASE_23_URL } from './support/fixture-revisions.js';

const NAME = 'DOM_TIMERS_FIRED_PER_NATIVE_TIMEOUT';
const revisions = new FixtureRevisionSource();

async function refusedWith(ping: unknown): Promise<PingErrorType> {
  const error: unknown = await convertPing(ping, revisions).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PingError);
  return (error as PingError).type;
}

/** `levels` nested arrays: [[[...]]]. */
const nested = (levels: number): unknown => JSON.parse('['.repeat(levels) + ']'.repeat(levels));

describe('hostile pings', () => {
  it('nesting deep enough to crash JSON.stringify is bad_payload, not a crash', async () => {
    const ping = { ver: 2, info: {}, deep: nested(100_000) };
    expect(() => JSON.stringify(ping)).toThrow(RangeError);
    expect(await refusedWith(ping)).toBe('bad_payload');
  });

  it(`accepts exactly ${MAX_PING_DEPTH} levels and refuses one more`, async () => {
    // The ping object itself is the first level.
    const ok = await convertPing({ ver: 2, info: {}, deep: nested(MAX_PING_DEPTH - 1) }, revisions);
    expect(JSON.stringify(ok.ping)).toContain('[]');
    expect(await refusedWith({ ver: 2, info: {}, deep: nested(MAX_PING_DEPTH) })).toBe('bad_payload');
  });

  it('deep nesting inside a unified payload is refused too', async () => {
    const ping = { version: 4, type: 'crash', application: {}, payload: { a: nested(50_000) } };
    expect(await refusedWith(ping)).toBe('bad_payload');
  });

  it('a cycle (not JSON, but not a hang either) is bad_payload', async () => {
    const ping: Record<string, unknown> = { ver: 2, info: {} };
    ping.self = ping;
    expect(await refusedWith(ping)).toBe('bad_payload');
  });

  it('a number out of range anywhere (JSON 1e999 parses to Infinity) is bad_payload', async () => {
    expect(await refusedWith(JSON.parse('{"ver": 2, "info": {"memsize": 1e999}}'))).toBe('bad_payload');
    expect(await refusedWith(JSON.parse('{"version": 5, "info": {}, "payload": {"x": [-1e999]}}'))).toBe('bad_payload');
  });

  it('out-of-range numbers inside histograms are conversion_error', async () => {
    const ping = JSON.parse(`{"ver": 1, "info": {"revision": "${RELEASE_23_URL}"}, "histograms": {"${NAME}": {"values": {"1": 1e999}}}}`) as unknown;
    expect(await refusedWith(ping)).toBe('conversion_error');
  });

  it('deep junk inside a dropped histogram is dropped with it', async () => {
    const ping = { ver: 1, info: { revision: RELEASE_23_URL }, histograms: { UNKNOWN: nested(100_000) } };
    const result = await convertPing(ping, revisions);
    expect(JSON.stringify(result.ping.histograms)).toBe('{}');
    expect(result.droppedHistograms).toEqual(['UNKNOWN']);
  });

  it('a huge array is fine', async () => {
    const big = Array.from({ length: 1_000_000 }, (_, i) => i);
    const result = await convertPing({ version: 5, info: { reason: 'main' }, payload: { big } }, revisions);
    expect((result.ping.payload as { big: number[] }).big).toHaveLength(1_000_000);
  });

  it('never throws anything but a PingError, and what it returns serialises exactly', async () => {
    // Through JSON text like a real ping (so -0 is 0), plus what JSON.parse can yield from 1e999.
    const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
    const anything = fc.oneof(
      { arbitrary: json, weight: 30 },
      { arbitrary: fc.constantFrom(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY), weight: 1 },
    );
    const often = <T>(likely: fc.Arbitrary<T>) => fc.oneof({ arbitrary: likely, weight: 4 }, { arbitrary: anything, weight: 1 });
    const histogram = fc.record(
      { values: often(fc.dictionary(fc.constantFrom('0', '1', '3', '2', '1114', '01'), often(fc.nat()), { noNullPrototype: true })), sum: anything, log_sum: anything },
      { requiredKeys: [], noNullPrototype: true },
    );
    const histograms = often(fc.dictionary(fc.constantFrom(NAME, `STARTUP_${NAME}`, 'UNKNOWN'), often(histogram), { noNullPrototype: true }));
    const info = often(fc.record({ revision: often(fc.constant(RELEASE_23_URL)), reason: anything }, { requiredKeys: [], noNullPrototype: true }));
    const classic = fc.record(
      { ver: often(fc.constantFrom(1, 2, 3)), info, histograms, 'deviceinfo.update_channel': anything, pingID: anything, other: anything },
      { requiredKeys: ['ver'], noNullPrototype: true },
    );
    const unified = fc.record(
      {
        version: often(fc.constantFrom(4, 5)),
        type: often(fc.constantFrom('main', 'saved-session', 'crash')),
        application: often(fc.dictionary(fc.constantFrom('name', 'channel', 'version'), often(fc.string()), { noNullPrototype: true })),
        payload: often(fc.record({ info, histograms, other: anything }, { requiredKeys: [], noNullPrototype: true })),
        info: anything,
      },
      { requiredKeys: ['version', 'type', 'application', 'payload'], noNullPrototype: true },
    );
    let converted = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(classic, unified, anything), async (input) => {
        const outcome = await convertPing(input, revisions).then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        );
        if ('error' in outcome) {
          expect(outcome.error).toBeInstanceOf(PingError);
          return;
        }
        converted++;
        const { result } = outcome;
        // Nothing lost or altered on the way to the stored line (no Infinity -> null, no dropped keys).
        expect(JSON.parse(JSON.stringify(result.ping))).toStrictEqual(result.ping);
        expect(result.info).toBe(result.ping.info);
      }),
      { numRuns: 2000 },
    );
    // The generator must reach the success paths too, or the property says little.
    expect(converted).toBeGreaterThan(100);
  });
});
