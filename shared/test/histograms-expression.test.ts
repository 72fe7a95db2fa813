import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../src/errors.js';
import { evaluateDefinitionNumber } from '../src/histograms/expression.js';
import { FIXTURE_REVISIONS, histogramsJsonPath } from './support/fixture-revisions.js';

const evaluate = (value: unknown) => evaluateDefinitionNumber(value, 'high', 'MY_HISTOGRAM');

describe('evaluateDefinitionNumber accepts', () => {
  it('JSON numbers that are non-negative integers', () => {
    expect(evaluate(0)).toBe(0);
    expect(evaluate(3000)).toBe(3000);
    expect(evaluate(Number.MAX_SAFE_INTEGER)).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('strings holding integers, with or without spaces', () => {
    expect(evaluate('100')).toBe(100);
    expect(evaluate(' 42 ')).toBe(42);
    expect(evaluate('007')).toBe(7);
  });

  it('* and + arithmetic, * binding tighter than +', () => {
    expect(evaluate('16 * 1024 * 1024')).toBe(16 * 1024 * 1024);
    expect(evaluate('80 + 1')).toBe(81);
    expect(evaluate('10*1000')).toBe(10_000);
    expect(evaluate('2 + 3 * 4')).toBe(14);
    expect(evaluate('3 * 4 + 2')).toBe(14);
    expect(evaluate('1 + 2 * 3 + 4 * 5 * 6')).toBe(1 + 2 * 3 + 4 * 5 * 6);
  });

  it('the two C++ constants, alone and inside arithmetic', () => {
    expect(evaluate('JS::gcreason::NUM_TELEMETRY_REASONS')).toBe(101);
    expect(evaluate('mozilla::StartupTimeline::MAX_EVENT_ID')).toBe(12);
    expect(evaluate('JS::gcreason::NUM_TELEMETRY_REASONS + 1')).toBe(102);
    expect(evaluate('2 * mozilla::StartupTimeline::MAX_EVENT_ID + 1')).toBe(25);
  });

  it('any sum of products of integers (checked against direct arithmetic)', () => {
    const products = fc.array(fc.array(fc.nat(5000), { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(products, fc.constantFrom('', ' ', '  '), (terms, space) => {
        const text = terms.map((factors) => factors.join(`${space}*${space}`)).join(`${space}+${space}`);
        const expected = terms.reduce((sum, factors) => sum + factors.reduce((p, f) => p * f, 1), 0);
        expect(evaluate(text)).toBe(expected);
      }),
    );
  });

  it('every numeric field of the three real revisions', () => {
    const constants: Record<string, number> = {
      'JS::gcreason::NUM_TELEMETRY_REASONS': 101,
      'mozilla::StartupTimeline::MAX_EVENT_ID': 12,
    };
    // An independent evaluator: split on + then *, look names up.
    const reference = (text: string) =>
      text
        .split('+')
        .map((term) => term.split('*').reduce((p, f) => p * (constants[f.trim()] ?? Number(f.trim())), 1))
        .reduce((a, b) => a + b, 0);
    let strings = 0;
    for (const { repo, revision } of FIXTURE_REVISIONS) {
      const table = JSON.parse(readFileSync(histogramsJsonPath(repo, revision), 'utf8')) as Record<string, Record<string, unknown>>;
      for (const [name, definition] of Object.entries(table)) {
        for (const field of ['low', 'high', 'n_buckets', 'n_values']) {
          const value = definition[field];
          if (value === undefined) continue;
          const expected = typeof value === 'string' ? reference(value) : value;
          if (typeof value === 'string') strings++;
          expect(evaluateDefinitionNumber(value, field, name), `${name}.${field}`).toBe(expected);
        }
      }
    }
    expect(strings).toBeGreaterThan(100);
  });
});

describe('evaluateDefinitionNumber refuses', () => {
  const refused: [string, unknown][] = [
    ['a fraction', 1.5],
    ['a negative number', -1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['an unsafe integer', 2 ** 53],
    ['an empty string', ''],
    ['a blank string', '   '],
    ['a decimal string', '1.5'],
    ['a signed string', '-1'],
    ['exponent notation', '1e3'],
    ['hex', '0x10'],
    ['a power', '2 ** 3'],
    ['parentheses', '(1 + 2)'],
    ['subtraction', '5 - 1'],
    ['division', '10 / 2'],
    ['a trailing operator', '1 +'],
    ['a leading operator', '* 2'],
    ['two numbers in a row', '16 1024'],
    ['an unknown constant', 'JS::gcreason::OTHER'],
    ['code', 'process.exit()'],
    ['an integer past 2^53', '9007199254740993'],
    ['arithmetic past 2^53', '99999999 * 99999999 * 99999999'],
    ['null', null],
    ['a boolean', true],
    ['an object', {}],
    ['an array', [1]],
    ['nothing', undefined],
  ];
  for (const [what, value] of refused) {
    it(what, () => {
      let caught: unknown;
      try {
        evaluateDefinitionNumber(value, 'n_buckets', 'SOME_HISTOGRAM');
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(DefinitionError);
      const error = caught as DefinitionError;
      expect(error.histogram).toBe('SOME_HISTOGRAM');
      expect(error.message).toContain('SOME_HISTOGRAM');
      expect(error.message).toContain('n_buckets');
    });
  }
});
