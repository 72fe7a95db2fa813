import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exponentialBuckets, linearBuckets } from '../src/histograms/buckets.js';
import { FIXTURE_REVISIONS, loadFixtureDefinitions } from './support/fixture-revisions.js';
import { fixturePath } from '../../test/support/fixtures.js';

interface OracleEntry {
  min: number;
  max: number;
  bucket_count: number;
  buckets: number[];
}

/** The histograms whose sizes are C++ constants, absent from the oracle. */
const CONSTANT_SIZED = ['GC_REASON_2', 'STARTUP_MEASUREMENT_ERRORS'];

describe.each(FIXTURE_REVISIONS)('bounds of $repo $revision', ({ repo, revision }) => {
  const definitions = loadFixtureDefinitions(repo, revision);
  const oracle = (JSON.parse(readFileSync(fixturePath('buckets', `${revision}.json`), 'utf8')) as { histograms: Record<string, OracleEntry> })
    .histograms;

  it('equal the C++ converter for every histogram of the oracle', () => {
    const names = Object.keys(oracle);
    expect(names.length).toBeGreaterThan(700);
    for (const name of names) {
      const expected = oracle[name] as OracleEntry;
      // The oracle adds STARTUP_ copies; conversion resolves them the same way.
      const compiled = definitions.get(name) ?? definitions.get(name.replace(/^STARTUP_/, ''));
      expect(compiled, name).toBeDefined();
      expect(compiled?.bounds, name).toEqual(expected.buckets);
      expect([compiled?.low, compiled?.high, compiled?.bucketCount], name).toEqual([expected.min, expected.max, expected.bucket_count]);
    }
  });

  it('leave out of the oracle only the constant-sized histograms', () => {
    const missing = [...definitions.names()].filter((name) => !(name in oracle));
    expect(missing.sort()).toEqual(CONSTANT_SIZED);
  });

  it('size GC_REASON_2 and STARTUP_MEASUREMENT_ERRORS from the C++ constants', () => {
    // enumerated over n values: buckets 0..n, n = 101 and 12.
    const gc = definitions.get('GC_REASON_2');
    expect(gc?.bucketCount).toBe(102);
    expect(gc?.bounds).toEqual(Array.from({ length: 102 }, (_, i) => i));
    const startup = definitions.get('STARTUP_MEASUREMENT_ERRORS');
    expect(startup?.bucketCount).toBe(13);
    expect(startup?.bounds).toEqual(Array.from({ length: 13 }, (_, i) => i));
  });
});

describe('bucket algorithms', () => {
  it('exponential(1, 3000, 10) is the SPEC example', () => {
    expect(exponentialBuckets(1, 3000, 10)).toEqual([0, 1, 3, 8, 21, 57, 154, 414, 1114, 3000]);
  });

  it('linear(1, 2, 3) is the boolean/flag layout', () => {
    expect(linearBuckets(1, 2, 3)).toEqual([0, 1, 2]);
  });

  const shape = fc
    .record({ low: fc.integer({ min: 1, max: 100_000 }), span: fc.integer({ min: 1, max: 10_000_000 }), n: fc.integer({ min: 3, max: 300 }) })
    .map(({ low, span, n }) => ({ low, high: low + span, n }));

  it('linear: n bounds from 0, low at 1, high last, strictly increasing when each step is >= 1', () => {
    fc.assert(
      fc.property(shape, ({ low, high, n }) => {
        const bounds = linearBuckets(low, high, n);
        expect(bounds.length).toBe(n);
        expect([bounds[0], bounds[1], bounds[n - 1]]).toEqual([0, low, high]);
        for (let i = 1; i < n; i++) {
          const step = (bounds[i] as number) - (bounds[i - 1] as number);
          expect(step).toBeGreaterThanOrEqual(high - low >= n - 2 ? 1 : 0);
        }
      }),
    );
  });

  it('exponential: n strictly increasing bounds from 0, low at 1, high last when the range allows', () => {
    fc.assert(
      fc.property(shape, ({ low, high, n }) => {
        const bounds = exponentialBuckets(low, high, n);
        expect(bounds.length).toBe(n);
        expect([bounds[0], bounds[1]]).toEqual([0, low]);
        for (let i = 1; i < n; i++) expect(bounds[i] as number).toBeGreaterThan(bounds[i - 1] as number);
        if (high - low >= n - 2) expect(bounds[n - 1]).toBe(high);
      }),
    );
  });
});
