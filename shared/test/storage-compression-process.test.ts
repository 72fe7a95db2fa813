import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LowPriorityCompressor } from '../src/storage/compression-process.js';

describe('LowPriorityCompressor', () => {
  let dir: string;
  let compressor: LowPriorityCompressor;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lowprio-'));
    compressor = new LowPriorityCompressor(10);
  });
  afterEach(async () => {
    compressor.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('compresses finished files atomically in a child process running at a lower CPU priority', async () => {
    const src = path.join(dir, 'a.v2.w1.log');
    const text = 'doc-1\t{"ver":2}\n'.repeat(10_000);
    await writeFile(src, text);
    const dst = await compressor.compress(src, 'gzip');
    expect(dst).toBe(`${src}.gz`);
    expect(gunzipSync(await readFile(dst)).toString()).toBe(text);
    await expect(readFile(src)).rejects.toMatchObject({ code: 'ENOENT' });
    const pid = compressor.pid;
    if (pid === undefined) throw new Error('no compression process');
    expect(os.getPriority(pid)).toBe(Math.min(19, os.getPriority() + 10));
  });

  it('fails the files of a child that dies, and forks a new one for the next file', async () => {
    const first = path.join(dir, 'b.log');
    await writeFile(first, 'x'.repeat(1000));
    await compressor.compress(first, 'gzip');
    const pid = compressor.pid;
    if (pid === undefined) throw new Error('no compression process');
    const second = path.join(dir, 'c.log');
    await writeFile(second, 'y'.repeat(50_000_000));
    const dying = compressor.compress(second, 'xz');
    process.kill(pid, 'SIGKILL');
    await expect(dying).rejects.toThrow(/exited/);
    const third = path.join(dir, 'd.log');
    await writeFile(third, 'z'.repeat(1000));
    expect(await compressor.compress(third, 'gzip')).toBe(`${third}.gz`);
    expect(compressor.pid).not.toBe(pid);
  });
});
