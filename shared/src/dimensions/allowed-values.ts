import type { AllowedRange, AllowedValues } from './schema.js';

/** What a dimension value becomes when the schema does not allow it (SPEC 4.4). */
export const DISALLOWED_VALUE = 'OTHER';
/** What a dimension value is when the ping does not have the field (SPEC 4.4). */
export const MISSING_VALUE = 'UNKNOWN';
export const WILDCARD = '*';

// Strict decimal notation only: Number() alone would also accept "", " 1 ",
// "0x1f" and "Infinity", which no schema author means as a number.
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The number a value spells in plain decimal, or undefined. */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * -1, 0 or 1 as `value` is below, at or above `bound`; undefined when they
 * cannot be compared. A numeric bound needs a numeric value. A string bound
 * compares numerically when both sides are decimal numbers ("9" < "10"), and
 * otherwise as text, which is what the 2013 server did for string ranges such
 * as `{"min": "20131001", "max": "20131031"}` on submission_date.
 */
function compareToBound(value: string, bound: number | string): number | undefined {
  const numericValue = parseDecimal(value);
  if (typeof bound === 'number') {
    return numericValue === undefined ? undefined : Math.sign(numericValue - bound);
  }
  const numericBound = parseDecimal(bound);
  if (numericValue !== undefined && numericBound !== undefined) return Math.sign(numericValue - numericBound);
  return value < bound ? -1 : value > bound ? 1 : 0;
}

function inRange(range: AllowedRange, value: string): boolean {
  if (range.min !== undefined) {
    const order = compareToBound(value, range.min);
    if (order === undefined || order < 0) return false;
  }
  if (range.max !== undefined) {
    const order = compareToBound(value, range.max);
    if (order === undefined || order > 0) return false;
  }
  // An empty range `{}` has no bound to fail, as in 2013: it allows anything.
  return true;
}

/**
 * Whether `value` is allowed. Strings and lists are exact (case-sensitive)
 * matches; a single string other than "*" behaves like a one-element list.
 */
export function isAllowed(allowed: AllowedValues, value: string): boolean {
  if (typeof allowed === 'string') return allowed === WILDCARD || allowed === value;
  if (isStringList(allowed)) return allowed.includes(value);
  return inRange(allowed, value);
}

function isStringList(allowed: readonly string[] | AllowedRange): allowed is readonly string[] {
  return Array.isArray(allowed);
}

/** `value` when allowed, else `OTHER`. */
export function allowedOrOther(allowed: AllowedValues, value: string): string {
  return isAllowed(allowed, value) ? value : DISALLOWED_VALUE;
}
