import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { heapCapArgs } from '../src/process/cluster-pool.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'support', 'heap-capped-pool.ts');

/** V8's heap limit (MiB) inside a process of a real pool started with a cap of `capMiB`. */
function pooledHeapLimitMiB(capMiB: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT], { env: { ...process.env, HEAP_CAP_MIB: String(capMiB) }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`pool exited ${String(code)}: ${stdout}`));
      else resolve((JSON.parse(stdout.trim()) as { heapSizeLimitMiB: number }).heapSizeLimitMiB);
    });
  });
}

describe('cluster pool heap cap', () => {
  it('turns a size into the V8 flag, never below 64 MiB', () => {
    expect(heapCapArgs(256 * 2 ** 20)).toEqual(['--max-old-space-size=256', '--max-semi-space-size=16']);
    expect(heapCapArgs(10 * 2 ** 20, 32)).toEqual(['--max-old-space-size=64', '--max-semi-space-size=32']);
  });

  it('applies the cap to the pooled processes', async () => {
    const [small, large] = await Promise.all([pooledHeapLimitMiB(96), pooledHeapLimitMiB(320)]);
    // heap_size_limit = old space + young generation, so a little above the cap.
    expect(small).toBeGreaterThanOrEqual(96);
    expect(small).toBeLessThan(96 + 100);
    expect(large).toBeGreaterThanOrEqual(320);
    expect(large).toBeLessThan(320 + 100);
  }, 30_000);
});
