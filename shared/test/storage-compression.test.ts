import { mkdir, mkdtemp, readFile, readdir, rm, writeFile, appendFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { PartitionedWriter, readRecordLines, type Compression } from '../src/storage/index.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'storage-compress-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const DIR = 'saved_session/Firefox/nightly/28.0a1';
const STEM = '20131029030201.20131029.v2';

async function files(): Promise<string[]> {
  const all = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  return all.map((e) => path.relative(root, path.join(e.parentPath, e.name))).sort();
}

async function readAll(relFiles: string[]): Promise<{ lines: string[]; tornLines: number }> {
  const counters = { tornLines: 0 };
  const lines: string[] = [];
  for (const f of relFiles) for await (const line of readRecordLines(path.join(root, f), counters)) lines.push(line);
  return { lines, tornLines: counters.tornLines };
}

function makeWriter(writerId: string, compression: Compression, clock = new ManualClock(1_000)) {
  return new PartitionedWriter({ rootDir: root, writerId, maxFileBytes: 4_000, maxFileAgeMs: 60_000, compression, clock });
}

describe.each([
  ['gzip', '.gz'],
  ['zstd', '.zst'],
  ['xz', '.xz'],
] as const)('compression %s', (compression, ext) => {
  it('compresses finished files off the append path and reads them back', async () => {
    const clock = new ManualClock(1_000);
    const w = makeWriter('w1', compression, clock);
    const expected: string[] = [];
    for (let batch = 0; batch < 6; batch++) {
      const lines = Array.from({ length: 20 }, (_, i) => `doc-${batch}-${i}\t{"ver":2,"text":"Wikipédia ${'x'.repeat(i * 7)}"}`);
      expected.push(...lines);
      await w.appendBatch(lines.map((line) => ({ dir: DIR, fileStem: STEM, line })));
      clock.advance(1);
    }
    await w.close();
    expect(w.pendingCompressions).toBe(0);
    const names = await files();
    // Only compressed files remain: no .log, no temp file.
    expect(names.length).toBeGreaterThan(1);
    expect(names.every((n) => n.startsWith(path.join(DIR, `${STEM}.w1.`)) && n.endsWith(`.log${ext}`))).toBe(true);
    expect(w.counters.filesCompressed).toBe(names.length);
    expect(w.counters.compressionFailures).toBe(0);
    const { lines, tornLines } = await readAll(names);
    expect(lines).toEqual(expected);
    expect(tornLines).toBe(0);
  });

  it('lets the append resolve before compression has finished', async () => {
    const w = new PartitionedWriter({ rootDir: root, writerId: 'w1', maxFileBytes: 1, maxFileAgeMs: 60_000, compression });
    await w.appendBatch([{ dir: DIR, fileStem: STEM, line: 'a\t{}' }]);
    // Rotated by size within the batch; its compression is still queued or running.
    expect(w.pendingCompressions).toBe(1);
    await w.close();
    expect(w.pendingCompressions).toBe(0);
    expect(await files()).toEqual([expect.stringMatching(new RegExp(`\\.w1\\.\\d{13}\\.log\\${ext}$`))]);
  });
});

describe('recovery of a crashed run', () => {
  it('finishes and compresses its own leftovers, never appending to them, and ignores other writers', async () => {
    const dir = path.join(root, DIR);
    await mkdir(dir, { recursive: true });
    // A crashed run of w1: an active file with a torn last line, a finished file
    // whose compression never ran, a stale temp file, and a finished file whose
    // compressed copy was complete when the process died.
    await writeFile(path.join(dir, `${STEM}.w1.log`), 'old-1\t{}\nold-2\t{}\n');
    await appendFile(path.join(dir, `${STEM}.w1.log`), 'torn\t{"half');
    await writeFile(path.join(dir, `${STEM}.w1.0000000000500.log`), 'fin-1\t{}\n');
    await writeFile(path.join(dir, `${STEM}.w1.0000000000600.log.gz.tmp`), 'partial garbage');
    await writeFile(path.join(dir, `${STEM}.w1.0000000000700.log`), 'dup-1\t{}\n');
    await writeFile(path.join(dir, `${STEM}.w1.0000000000700.log.gz`), gzipSync('dup-1\t{}\n'));
    // Another writer's files, active and finished-uncompressed: not ours to touch.
    await writeFile(path.join(dir, `${STEM}.w2.log`), 'other\t{}\n');
    await writeFile(path.join(dir, `${STEM}.w2.0000000000500.log`), 'other-fin\t{}\n');

    const w = makeWriter('w1', 'gzip');
    await w.appendBatch([{ dir: DIR, fileStem: STEM, line: 'new-1\t{}' }]); // recovers first, implicitly
    expect(await readFile(path.join(dir, `${STEM}.w1.log`), 'utf8')).toBe('new-1\t{}\n');
    await w.close();

    const names = await files();
    const mine = names.filter((n) => n.includes('.w1.'));
    expect(mine.every((n) => n.endsWith('.log.gz'))).toBe(true);
    expect(mine).toHaveLength(4); // old active, 500, 700, new
    expect(names.filter((n) => n.includes('.w2.'))).toEqual([
      path.join(DIR, `${STEM}.w2.0000000000500.log`),
      path.join(DIR, `${STEM}.w2.log`),
    ]);
    expect(await readFile(path.join(dir, `${STEM}.w2.log`), 'utf8')).toBe('other\t{}\n');
    const { lines, tornLines } = await readAll(mine);
    expect(lines.sort()).toEqual(['dup-1\t{}', 'fin-1\t{}', 'new-1\t{}', 'old-1\t{}', 'old-2\t{}']);
    expect(tornLines).toBe(1);
    expect(w.counters.leftoversRecovered).toBe(1);
  });

  it('reports what recover() did and is idempotent', async () => {
    const dir = path.join(root, 'errors/bad_json');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, '20130910.w1.log'), 'a\t{}\n');
    await writeFile(path.join(dir, '20130910.w1.0000000000001.log.zst.tmp'), 'x');
    await writeFile(path.join(dir, '20130909.w1.log'), ''); // empty: removed, nothing to keep
    const w = makeWriter('w1', 'zstd');
    expect(await w.recover()).toEqual({ activeFinished: 1, compressionsQueued: 0, duplicatesRemoved: 0, tempRemoved: 1 });
    await w.close();
    expect(await files()).toEqual([expect.stringMatching(/^errors\/bad_json\/20130910\.w1\.\d{13}\.log\.zst$/)]);
    const again = makeWriter('w1', 'zstd');
    expect(await again.recover()).toEqual({ activeFinished: 0, compressionsQueued: 0, duplicatesRemoved: 0, tempRemoved: 0 });
  });
});
