/**
 * Bucket lower bounds, computed exactly as Firefox (and the 2013 C++
 * converter) did: the submitted `values` keys are these numbers, so any
 * difference in rounding would make valid pings unconvertible. The formulas
 * and the order of floating-point operations follow SPEC 4.2 literally; the
 * fixtures in fixtures/buckets are the oracle.
 *
 * Callers validate the arguments (definitions.ts): low >= 1, high > low, n >= 3.
 */

/** Evenly spaced bounds: bucket 0 is 0, bucket 1 is low, bucket n-1 is high. */
export function linearBuckets(low: number, high: number, n: number): number[] {
  const bounds = [0];
  for (let i = 1; i < n; i++) {
    bounds.push(Math.floor((low * (n - 1 - i) + high * (i - 1)) / (n - 2) + 0.5));
  }
  return bounds;
}

/**
 * Geometrically spaced bounds: each step takes the (remaining buckets)-th root
 * of the remaining range, and always advances by at least 1 so bounds stay
 * strictly increasing even where the ratio rounds to nothing.
 */
export function exponentialBuckets(low: number, high: number, n: number): number[] {
  const bounds = [0];
  if (n < 2) return bounds;
  bounds.push(low);
  const logHigh = Math.log(high);
  let current = low;
  for (let i = 2; i < n; i++) {
    const logCurrent = Math.log(current);
    const next = Math.floor(Math.exp(logCurrent + (logHigh - logCurrent) / (n - i)) + 0.5);
    current = next > current ? next : current + 1;
    bounds.push(current);
  }
  return bounds;
}
