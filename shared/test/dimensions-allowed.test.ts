import { describe, expect, it } from 'vitest';
import { allowedOrOther, isAllowed, parseDecimal } from '../src/dimensions/allowed-values.js';

describe('isAllowed', () => {
  it('"*" allows anything, including the empty string', () => {
    for (const value of ['', 'x', 'OTHER', '../..']) expect(isAllowed('*', value)).toBe(true);
  });

  it('a single string is an exact, case-sensitive match', () => {
    expect(isAllowed('release', 'release')).toBe(true);
    expect(isAllowed('release', 'Release')).toBe(false);
    expect(isAllowed('release', 'release ')).toBe(false);
    expect(isAllowed('release', '*')).toBe(false);
  });

  it('a list is membership, and an empty list allows nothing', () => {
    const list = ['idle-daily', 'saved-session'];
    expect(isAllowed(list, 'saved-session')).toBe(true);
    expect(isAllowed(list, 'saved_session')).toBe(false);
    expect(isAllowed([], 'anything')).toBe(false);
  });

  it('a numeric range compares numbers, bounds included', () => {
    const range = { min: 448, max: 500 };
    expect(isAllowed(range, '448')).toBe(true);
    expect(isAllowed(range, '500')).toBe(true);
    expect(isAllowed(range, '499.5')).toBe(true);
    expect(isAllowed(range, '447')).toBe(false);
    expect(isAllowed(range, '501')).toBe(false);
    // Numeric, not textual: "1000" < "448" as text, but not as numbers.
    expect(isAllowed({ min: 448 }, '1000')).toBe(true);
    expect(isAllowed({ max: 500 }, '1000')).toBe(false);
  });

  it('a non-numeric value is not in a numeric range', () => {
    for (const value of ['', 'abc', '0x1f', ' 450', '450 ', 'Infinity', 'NaN', '4e', '1e999']) {
      expect(isAllowed({ min: 0 }, value)).toBe(false);
      expect(isAllowed({ max: 1e300 }, value)).toBe(false);
    }
  });

  it('an open range allows any number on its open side', () => {
    expect(isAllowed({ min: 10 }, '1e9')).toBe(true);
    expect(isAllowed({ max: 10 }, '-5')).toBe(true);
    expect(isAllowed({}, 'anything')).toBe(true);
  });

  it('string bounds compare numerically when both sides are numbers (2013 date ranges)', () => {
    const october = { min: '20131001', max: '20131031' };
    expect(isAllowed(october, '20131015')).toBe(true);
    expect(isAllowed(october, '20131031')).toBe(true);
    expect(isAllowed(october, '20130930')).toBe(false);
    expect(isAllowed(october, '20131101')).toBe(false);
    expect(isAllowed({ min: '9' }, '10')).toBe(true);
  });

  it('string bounds compare as text otherwise, as the 2013 server did', () => {
    const range = { min: '22.0a1', max: '28.0a1' };
    expect(isAllowed(range, '24.0a1')).toBe(true);
    expect(isAllowed(range, '21.0')).toBe(false);
    expect(isAllowed(range, '29.0a1')).toBe(false);
  });

  it('allowedOrOther keeps allowed values and turns the rest into OTHER', () => {
    expect(allowedOrOther(['beta'], 'beta')).toBe('beta');
    expect(allowedOrOther(['beta'], 'esr')).toBe('OTHER');
  });
});

describe('parseDecimal', () => {
  it('reads plain decimal notation only', () => {
    expect(parseDecimal('448')).toBe(448);
    expect(parseDecimal('-1.5')).toBe(-1.5);
    expect(parseDecimal('.5')).toBe(0.5);
    expect(parseDecimal('2e3')).toBe(2000);
    for (const text of ['', ' 1', '1 ', '0x10', '1_000', 'Infinity', '+', '1e999']) {
      expect(parseDecimal(text)).toBeUndefined();
    }
  });
});
