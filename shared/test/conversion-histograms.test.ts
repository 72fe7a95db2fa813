import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { convertHistograms } from '../src/conversion/histograms.js';
import { PingError } from '../src/errors.js';
import { compileHistogramDefinitions } from '../src/histograms/definitions.js';
import type { CompiledHistogram } from '../src/histograms/types.js';
import { loadFixtureDefinitions } from './support/fixture-revisions.js';
import { SPEC_CONVERTED, specSubmittedHistogram } from './support/spec-example.js';

const definitions = loadFixtureDefinitions('releases/mozilla-release', 'a55c55edf302');
const NAME = 'DOM_TIMERS_FIRED_PER_NATIVE_TIMEOUT';

const specExample = specSubmittedHistogram;

function conversionError(histograms: Record<string, unknown>): PingError {
  try {
    convertHistograms(histograms, definitions);
  } catch (error) {
    expect(error).toBeInstanceOf(PingError);
    expect((error as PingError).type).toBe('conversion_error');
    return error as PingError;
  }
  throw new Error('expected a conversion_error, nothing was thrown');
}

describe('convertHistograms', () => {
  it('turns the SPEC example into its compact array', () => {
    expect(definitions.get(NAME)?.bounds).toEqual([0, 1, 3, 8, 21, 57, 154, 414, 1114, 3000]);
    expect(convertHistograms({ [NAME]: specExample() }, definitions)).toEqual({ histograms: { [NAME]: SPEC_CONVERTED }, dropped: [] });
  });

  it('serialises the example to the minimal JSON of the SPEC', () => {
    expect(JSON.stringify(convertHistograms({ [NAME]: specExample() }, definitions).histograms)).toBe(
      `{"${NAME}":[0,1232,7,2,0,0,0,1,0,0,1279,873.47,624.02,-1,-1]}`,
    );
  });

  it('uses the unprefixed definition for STARTUP_ names and keeps the submitted name', () => {
    const { histograms, dropped } = convertHistograms({ [`STARTUP_${NAME}`]: specExample() }, definitions);
    expect(histograms).toEqual({ [`STARTUP_${NAME}`]: SPEC_CONVERTED });
    expect(dropped).toEqual([]);
  });

  it('prefers a name\'s own definition to the STARTUP_ rule', () => {
    const own = definitions.get('STARTUP_MEASUREMENT_ERRORS') as CompiledHistogram;
    const { histograms } = convertHistograms({ STARTUP_MEASUREMENT_ERRORS: { values: { '12': 4 } } }, definitions);
    expect(histograms.STARTUP_MEASUREMENT_ERRORS?.length).toBe(own.bucketCount + 5);
    expect(histograms.STARTUP_MEASUREMENT_ERRORS?.[12]).toBe(4);
  });

  it('drops and lists unknown names, whatever their content', () => {
    const { histograms, dropped } = convertHistograms(
      { NOT_A_HISTOGRAM: specExample(), [NAME]: specExample(), STARTUP_NOT_EITHER: 'junk', STARTUP_: null },
      definitions,
    );
    expect(Object.keys(histograms)).toEqual([NAME]);
    expect(dropped).toEqual(['NOT_A_HISTOGRAM', 'STARTUP_NOT_EITHER', 'STARTUP_']);
  });

  it('writes every statistic present and -1 for absent or null ones', () => {
    const submitted = { values: { '1': 1 }, sum: 0, log_sum: null, sum_squares_lo: 5, sum_squares_hi: 7 };
    expect(convertHistograms({ [NAME]: submitted }, definitions).histograms[NAME]).toEqual([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, 5, 7]);
  });

  it('accepts an empty values object (all zero)', () => {
    expect(convertHistograms({ [NAME]: { values: {} } }, definitions).histograms[NAME]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1]);
  });

  it('keeps a histogram named __proto__ as data', () => {
    const own = compileTable({ ['__proto__']: { kind: 'flag' } });
    const submitted = JSON.parse('{"__proto__": {"values": {"1": 3}}}') as Record<string, unknown>;
    const { histograms } = convertHistograms(submitted, own);
    expect(JSON.stringify(histograms)).toBe('{"__proto__":[0,3,0,-1,-1,-1,-1,-1]}');
  });

  it('puts each count at the index of its lower bound (any subset of bounds, any counts)', () => {
    const histogram = definitions.get(NAME) as CompiledHistogram;
    const entries = fc.dictionary(fc.constantFrom(...histogram.bounds.map(String)), fc.integer({ min: 0, max: 2 ** 31 }));
    fc.assert(
      fc.property(entries, fc.option(fc.double({ noNaN: true, noDefaultInfinity: true })), (values, sum) => {
        const converted = convertHistograms({ [NAME]: { values, sum } }, definitions).histograms[NAME];
        const expected = histogram.bounds.map((bound) => values[String(bound)] ?? 0);
        expect(converted).toEqual([...expected, sum ?? -1, -1, -1, -1, -1]);
      }),
    );
  });
});

/** Definitions from JSON text, so keys like __proto__ are own properties as in a fetched file. */
function compileTable(table: Record<string, unknown>) {
  return compileHistogramDefinitions(JSON.parse(JSON.stringify(table)) as unknown);
}

describe('convertHistograms refuses the whole ping (conversion_error)', () => {
  const withValues = (values: unknown) => ({ [NAME]: { ...specExample(), values } });
  const badBuckets: [string, unknown, string][] = [
    ['a key that is not a lower bound', { '2': 1 }, '"2"'],
    ['a key with a leading zero', { '01': 1 }, '"01"'],
    ['a key with a fraction', { '1.0': 1 }, '"1.0"'],
    ['a key with spaces', { ' 1': 1 }, '" 1"'],
    ['a negative key', { '-1': 1 }, '"-1"'],
    ['a key past the last bound', { '3001': 1 }, '"3001"'],
    ['a fractional count', { '1': 1.5 }, '"1"'],
    ['a string count', { '3': '7' }, '"3"'],
    ['a null count', { '8': null }, '"8"'],
    ['an object count', { '8': {} }, '"8"'],
    ['a count past 2^53', { '414': 1e300 }, '"414"'],
    ['an infinite count', { '414': JSON.parse('1e999') as number }, '"414"'],
  ];
  it.each(badBuckets)('%s', (_what, values, bucket) => {
    const error = conversionError(withValues(values));
    expect(error.message).toContain(NAME);
    expect(error.message).toContain(bucket);
  });

  it('a huge bad key is quoted short in the message', () => {
    const error = conversionError(withValues({ ['9'.repeat(100_000)]: 1 }));
    expect(error.message.length).toBeLessThan(400);
  });

  const badShapes: [string, unknown][] = [
    ['a histogram that is an array', [1, 2]],
    ['a histogram that is a number', 3],
    ['a histogram that is null', null],
    ['a histogram that is a string', 'histogram'],
    ['a histogram without values', { sum: 1 }],
    ['values that is an array', { values: [0, 1] }],
    ['values that is null', { values: null }],
    ['values that is a string', { values: '{}' }],
  ];
  it.each(badShapes)('%s', (_what, histogram) => {
    expect(conversionError({ [NAME]: histogram }).message).toContain(NAME);
  });

  it('the same for a STARTUP_ histogram', () => {
    expect(conversionError({ [`STARTUP_${NAME}`]: { values: { '2': 1 } } }).message).toContain(`STARTUP_${NAME}`);
  });

  const badStatistics: [string, unknown][] = [
    ['sum', '1279'],
    ['log_sum', true],
    ['log_sum_squares', {}],
    ['sum_squares_lo', [1]],
    ['sum_squares_hi', JSON.parse('-1e999') as number],
  ];
  it.each(badStatistics)('a %s of another type', (statistic, value) => {
    const error = conversionError({ [NAME]: { ...specExample(), [statistic]: value } });
    expect(error.message).toContain(NAME);
    expect(error.message).toContain(statistic);
  });
});
