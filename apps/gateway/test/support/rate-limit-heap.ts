/**
 * Run by client-address.test.ts with --expose-gc: the heap growth of a
 * rate limiter fed 100k distinct 1000-character keys, bounded to LIMIT_BYTES
 * and unbounded, printed as JSON (bytes).
 */
import { RateLimiter } from '../../src/rate-limit.js';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function growth(maxBytes: number): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const limiter = new RateLimiter(10, 20, { nowMs: () => 0 }, maxBytes);
  for (let i = 0; i < 100_000; i += 1) limiter.take(`${i}:`.padEnd(1_000, String.fromCharCode(97 + (i % 26))));
  gc();
  const after = process.memoryUsage().heapUsed;
  if (limiter.calculatedBytes < 0) throw new Error('unreachable: keeps the limiter alive until measured');
  return after - before;
}

const bounded = growth(Number(process.env.LIMIT_BYTES));
const unbounded = growth(2 ** 40);
process.stdout.write(`${JSON.stringify({ bounded, unbounded })}\n`);
