import { describe, expect, it } from 'vitest';
import { leastSquaresSlope, theilSenSlope } from '../bench/slope.js';

const minutes = Array.from({ length: 55 }, (_, i) => 1 + i / 6);

describe('soak trend estimators', () => {
  it('agree on a steady leak', () => {
    const leak = minutes.map((t) => 120 + 2 * t + (t % 0.5));
    expect(leastSquaresSlope(minutes, leak)).toBeCloseTo(2, 1);
    expect(theilSenSlope(minutes, leak)).toBeCloseTo(2, 1);
  });

  it('Theil–Sen ignores short peaks that tilt least squares', () => {
    // Flat at 130 MiB with three 25 MiB samples near the end (a compression in progress).
    const flat = minutes.map((_, i) => (i === 41 || i === 48 || i === 53 ? 155 : 130));
    expect(leastSquaresSlope(minutes, flat)).toBeGreaterThan(0.5);
    expect(theilSenSlope(minutes, flat)).toBe(0);
  });

  it('Theil–Sen still sees growth hidden under noise', () => {
    const noisy = minutes.map((t, i) => 130 + t + (i % 3 === 0 ? 8 : -4));
    expect(theilSenSlope(minutes, noisy)).toBeGreaterThan(0.7);
  });
});
