import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { forwardedClient, normalizeAddress } from '../src/client-ip.js';
import { RateLimiter } from '../src/rate-limit.js';

describe('client address behind trusted proxies', () => {
  it('takes the entry the nearest trusted proxies added, counted from the right', () => {
    expect(forwardedClient('6.6.6.6, 203.0.113.9', 1)).toBe('203.0.113.9');
    expect(forwardedClient('6.6.6.6,203.0.113.9 , 10.0.0.1', 2)).toBe('203.0.113.9');
    // Fewer entries than hops: the leftmost (the client reached a proxy nearer to us directly).
    expect(forwardedClient('203.0.113.9', 3)).toBe('203.0.113.9');
    expect(forwardedClient(undefined, 1)).toBeUndefined();
    expect(forwardedClient('', 1)).toBeUndefined();
    expect(forwardedClient('1.1.1.1', 0)).toBeUndefined();
  });

  it('accepts only IP addresses, without port or brackets, IPv4-mapped as IPv4', () => {
    expect(normalizeAddress('203.0.113.9:4711')).toBe('203.0.113.9');
    expect(normalizeAddress('[2001:DB8::1]:443')).toBe('2001:db8::1');
    expect(normalizeAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(normalizeAddress('::ffff:198.51.100.7')).toBe('198.51.100.7');
    for (const bad of ['unknown', '<script>', '1.2.3', '999.1.1.1', 'x'.repeat(1000), '', '_hidden']) expect(normalizeAddress(bad), bad).toBeUndefined();
  });
});

describe('rate limiter memory', () => {
  it('counts its buckets in bytes and never past its bound', () => {
    const limiter = new RateLimiter(10, 20, { nowMs: () => 0 }, 1024 * 1024);
    for (let i = 0; i < 20_000; i += 1) limiter.take(`${i}`.padStart(1_000, 'k'));
    expect(limiter.calculatedBytes).toBeGreaterThan(1024 * 1024 - 3_000);
    expect(limiter.calculatedBytes).toBeLessThanOrEqual(1024 * 1024);
  });

  it('keeps the heap it really takes under its bound (100k 1000-character keys)', () => {
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'rate-limit-heap.ts');
    const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', script], { encoding: 'utf8', env: { ...process.env, LIMIT_BYTES: String(16 * 2 ** 20) } });
    expect(run.status, run.stderr).toBe(0);
    const { bounded, unbounded } = JSON.parse(run.stdout) as { bounded: number; unbounded: number };
    // Without a bound the same keys take several times more: the measurement can see the difference.
    expect(unbounded).toBeGreaterThan(40 * 2 ** 20);
    expect(bounded).toBeLessThan(16 * 2 ** 20 * 1.25);
  }, 60_000);
});
