import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { PartitionedWriter, UnsafeStoragePathError, type StorageRecord } from '../src/storage/index.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'storage-writer-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const DIR = 'saved_session/Firefox/release/23.0.1';
const STEM = '20130814063812.20130910.v2';

function rec(line: string, dir = DIR, fileStem = STEM): StorageRecord {
  return { dir, fileStem, line };
}

async function files(): Promise<string[]> {
  const all = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  return all.map((e) => path.relative(root, path.join(e.parentPath, e.name))).sort();
}

function writer(writerId: string, extra: Partial<ConstructorParameters<typeof PartitionedWriter>[0]> = {}) {
  return new PartitionedWriter({
    rootDir: root,
    writerId,
    maxFileBytes: 1 << 20,
    maxFileAgeMs: 60_000,
    compression: 'none',
    ...extra,
  });
}

describe('PartitionedWriter appends', () => {
  it('has every line of a batch on disk, in order, once appendBatch resolves', async () => {
    const w = writer('w1');
    await w.appendBatch([rec('a\t{"x":1}'), rec('b\t{"x":2}'), rec('c\t{}', 'errors/bad_json', '20130910')]);
    await w.appendBatch([rec('d\t{"x":4}')]);
    const main = path.join(root, DIR, `${STEM}.w1.log`);
    expect(await readFile(main, 'utf8')).toBe('a\t{"x":1}\nb\t{"x":2}\nd\t{"x":4}\n');
    expect(await readFile(path.join(root, 'errors/bad_json/20130910.w1.log'), 'utf8')).toBe('c\t{}\n');
    expect(w.counters).toMatchObject({ linesWritten: 4, bytesWritten: 35, batchesFailed: 0 });
    expect(w.openFiles).toBe(2);
  });

  it('keeps two writers in one directory entirely apart', async () => {
    const a = writer('wa', { clock: new ManualClock(0) });
    const b = writer('wb', { clock: new ManualClock(0) });
    for (let i = 0; i < 5; i++) {
      await Promise.all([a.appendBatch([rec(`a${i}\t{}`)]), b.appendBatch([rec(`b${i}\t{}`)])]);
    }
    const bActive = path.join(root, DIR, `${STEM}.wb.log`);
    const bBefore = await stat(bActive);
    await a.close();
    // A's close finished only A's file; B's active file is untouched and still B's.
    expect(await files()).toEqual([path.join(DIR, `${STEM}.wa.0000000000000.log`), path.join(DIR, `${STEM}.wb.log`)].sort());
    const bAfter = await stat(bActive);
    expect([bAfter.ino, bAfter.size, bAfter.mtimeMs]).toEqual([bBefore.ino, bBefore.size, bBefore.mtimeMs]);
    // A restarted A recovers nothing of B's.
    const a2 = writer('wa');
    expect(await a2.recover()).toEqual({ activeFinished: 0, compressionsQueued: 0, duplicatesRemoved: 0, tempRemoved: 0 });
    await b.appendBatch([rec('b5\t{}')]);
    const bLines = (await readFile(bActive, 'utf8')).trim().split('\n');
    expect(bLines).toEqual(['b0\t{}', 'b1\t{}', 'b2\t{}', 'b3\t{}', 'b4\t{}', 'b5\t{}']);
    const aFinished = await readFile(path.join(root, DIR, `${STEM}.wa.0000000000000.log`), 'utf8');
    expect(aFinished.trim().split('\n').every((l) => l.startsWith('a'))).toBe(true);
  });

  it('refuses a line with a newline and paths that could leave the root, writing nothing', async () => {
    const w = writer('w1');
    await expect(w.appendBatch([rec('ok\t{}'), rec('bad\n{}')])).rejects.toThrow(/newline/);
    for (const [dir, stem] of [
      ['../outside', STEM],
      ['a/../../x', STEM],
      ['a//b', STEM],
      ['a', '..'],
      ['a', 'x/y'],
      ['a\\b', STEM],
      ['.', STEM],
    ] as const) {
      await expect(w.appendBatch([rec('ok\t{}', dir, stem)])).rejects.toBeInstanceOf(UnsafeStoragePathError);
    }
    await expect(w.appendBatch([rec('ok\t{}', 'a', 'x'.repeat(240))])).rejects.toBeInstanceOf(UnsafeStoragePathError);
    expect(await files()).toEqual([]);
    // A component merely containing '..' is an ordinary name.
    await w.appendBatch([rec('ok\t{}', 'v/1..2', STEM)]);
    expect(await files()).toEqual([path.join('v/1..2', `${STEM}.w1.log`)]);
  });

  it('refuses writer ids that would make names ambiguous', () => {
    for (const id of ['', 'a.b', '123', 'a/b', 'x'.repeat(65)]) {
      expect(() => writer(id)).toThrow(UnsafeStoragePathError);
    }
    expect(() => writer('w3f9c')).not.toThrow();
  });
});

describe('PartitionedWriter rotation', () => {
  it('finishes a file once it reaches maxFileBytes, with unique seqs in one millisecond', async () => {
    const clock = new ManualClock(1_378_822_911_255);
    const w = writer('w1', { maxFileBytes: 20, clock });
    await w.appendBatch([rec('0123456789')]); // 11 bytes: stays open
    expect(await files()).toEqual([path.join(DIR, `${STEM}.w1.log`)]);
    await w.appendBatch([rec('abcdefghij')]); // 22 bytes: finished
    await w.appendBatch([rec('second file')]);
    await w.appendBatch([rec('still second')]); // 25 bytes: finished, same clock ms
    await w.appendBatch([rec('third')]);
    expect(await files()).toEqual(
      [
        path.join(DIR, `${STEM}.w1.1378822911255.log`),
        path.join(DIR, `${STEM}.w1.1378822911256.log`),
        path.join(DIR, `${STEM}.w1.log`),
      ].sort(),
    );
    const first = await readFile(path.join(root, DIR, `${STEM}.w1.1378822911255.log`), 'utf8');
    expect(first).toBe('0123456789\nabcdefghij\n');
    expect(w.counters.filesFinished).toBe(2);
  });

  it('finishes a file open for maxFileAgeMs, by rotateExpired and on append', async () => {
    const clock = new ManualClock(5_000);
    const w = writer('w1', { maxFileAgeMs: 1_000, clock });
    await w.appendBatch([rec('one')]);
    clock.advance(999);
    expect(await w.rotateExpired()).toBe(0);
    clock.advance(1);
    expect(await w.rotateExpired()).toBe(1);
    expect(await files()).toEqual([path.join(DIR, `${STEM}.w1.0000000005000.log`)]);
    expect(w.openFiles).toBe(0);

    await w.appendBatch([rec('two')]); // opened at 6000
    clock.advance(1_500);
    await w.appendBatch([rec('three')]); // expired: two is finished first, three opens a new file
    expect(await files()).toEqual(
      [
        path.join(DIR, `${STEM}.w1.0000000005000.log`),
        path.join(DIR, `${STEM}.w1.0000000006000.log`),
        path.join(DIR, `${STEM}.w1.log`),
      ].sort(),
    );
    expect(await readFile(path.join(root, DIR, `${STEM}.w1.0000000006000.log`), 'utf8')).toBe('two\n');
    expect(await readFile(path.join(root, DIR, `${STEM}.w1.log`), 'utf8')).toBe('three\n');
    await w.close();
    expect(await files()).toHaveLength(3);
    await expect(w.appendBatch([rec('late')])).rejects.toThrow(/closed/);
  });
});
