import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_DIMENSION_VALUE_LENGTH, isSanitized, sanitizeDimensionValue } from '../src/dimensions/sanitize.js';

const SAFE = /^[A-Za-z0-9_.]+$/;

// Strings biased towards what an attacker would try in a path.
const hostileValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('/', '\\', '.', '..', '\0', '%2e', '%2f', 'a', '~', ':', ' '), maxLength: 12 }),
  fc.constantFrom('.', '..', '', '/', '\\', '../..', '..\\..', '\0', '%2e%2e', '....//', '/etc/passwd', 'C:\\x'),
);

describe('sanitizeDimensionValue', () => {
  it.each([
    ['saved-session', 'saved_session'],
    ['Firefox', 'Firefox'],
    ['23.0.1', '23.0.1'],
    ['Hello World!', 'Hello_World_'],
    ['what\nam\ni', 'what_am_i'],
    ['Wikipédia', 'Wikip_dia'],
    ['😀', '__'],
    ['../../x', '.._.._x'],
    ['/etc/passwd', '_etc_passwd'],
    ['a\0b', 'a_b'],
    ['%2e%2e', '_2e_2e'],
    ['.', '_'],
    ['..', '_'],
    ['', '_'],
    ['...', '...'],
  ])('%j -> %j', (input, expected) => {
    expect(sanitizeDimensionValue(input)).toBe(expected);
  });

  it('cuts very long values so file names stay under the 255-byte limit', () => {
    const value = sanitizeDimensionValue('x'.repeat(10_000));
    expect(value).toHaveLength(MAX_DIMENSION_VALUE_LENGTH);
  });

  it('property: only safe characters, never a dot name, never empty, idempotent', () => {
    fc.assert(
      fc.property(hostileValue, (value) => {
        const safe = sanitizeDimensionValue(value);
        expect(safe).toMatch(SAFE);
        expect(['', '.', '..']).not.toContain(safe);
        expect(safe.length).toBeLessThanOrEqual(MAX_DIMENSION_VALUE_LENGTH);
        expect(isSanitized(safe)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('property: joined under a root, sanitised values always stay strictly inside it', () => {
    const root = path.resolve('/srv/telemetry/storage');
    fc.assert(
      fc.property(fc.array(hostileValue, { minLength: 1, maxLength: 8 }), (values) => {
        const resolved = path.resolve(root, ...values.map(sanitizeDimensionValue));
        expect(resolved.startsWith(root + path.sep)).toBe(true);
        // Each value is exactly one component: nothing was swallowed or split.
        expect(path.relative(root, resolved).split(path.sep)).toHaveLength(values.length);
      }),
      { numRuns: 2000 },
    );
  });
});
