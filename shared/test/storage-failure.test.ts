import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageWriteError, TransientError } from '../src/errors.js';
import { PartitionedWriter } from '../src/storage/index.js';
import { REPO_ROOT } from '../../test/support/fixtures.js';

const run = promisify(execFile);

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'storage-failure-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const DIR = 'saved_session/Firefox/release/23.0.1';
const STEM = '20130814063812.20130910.v2';
const line = (text: string) => ({ dir: DIR, fileStem: STEM, line: text });

describe.skipIf(!existsSync('/dev/full'))('a full disk', () => {
  it('rejects with a transient StorageWriteError, writes nothing of the batch, and accepts the retry', async () => {
    const w = new PartitionedWriter({ rootDir: root, writerId: 'w1', maxFileBytes: 1 << 20, maxFileAgeMs: 60_000, compression: 'none' });
    await w.appendBatch([line('first\t{}'), { dir: 'other', fileStem: STEM, line: 'o1\t{}' }]);
    const active = path.join(root, DIR, `${STEM}.w1.log`);
    const other = path.join(root, 'other', `${STEM}.w1.log`);

    // The disk "fills up" under one file: writes to /dev/full fail with ENOSPC.
    await rename(active, `${active}.saved`);
    await symlink('/dev/full', active);
    const failure = await w.appendBatch([line('second\t{}'), { dir: 'other', fileStem: STEM, line: 'o2\t{}' }]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(StorageWriteError);
    expect(failure).toBeInstanceOf(TransientError);
    expect(((failure as StorageWriteError).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    // The file that did succeed in the failed batch was rolled back: no duplicate on retry.
    expect(await readFile(other, 'utf8')).toBe('o1\t{}\n');
    expect(w.counters.batchesFailed).toBe(1);

    // Space is back; the caller retries the same batch and it lands once.
    await unlink(active);
    await rename(`${active}.saved`, active);
    await w.appendBatch([line('second\t{}'), { dir: 'other', fileStem: STEM, line: 'o2\t{}' }]);
    expect(await readFile(active, 'utf8')).toBe('first\t{}\nsecond\t{}\n');
    expect(await readFile(other, 'utf8')).toBe('o1\t{}\no2\t{}\n');
  });
});

// A child process under a 1 KiB file size limit (ulimit -f 1) gets a real short
// write followed by EFBIG: the partial line must be cut off so the retry
// starts on a fresh line.
const CHILD = `
import { PartitionedWriter } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'shared/src/storage/index.ts')).href)};
const root = process.argv[2];
const w = new PartitionedWriter({ rootDir: root, writerId: 'w1', maxFileBytes: 1 << 20, maxFileAgeMs: 60000, compression: 'none' });
const rec = (line) => ({ dir: 'd', fileStem: 's', line });
const out = [];
await w.appendBatch([rec('a'.repeat(599))]);
out.push('ok');
try { await w.appendBatch([rec('b'.repeat(999))]); out.push('ok'); } catch (e) { out.push(e.name + ':' + e.cause?.code); }
await w.appendBatch([rec('c'.repeat(199))]);
out.push('ok');
console.log(JSON.stringify(out));
`;

describe.skipIf(!existsSync('/bin/bash'))('a short write', () => {
  it('cuts the partial line of a failed write so the next batch starts on a fresh line', async () => {
    const script = path.join(root, 'child.mjs');
    await writeFile(script, CHILD);
    const data = path.join(root, 'data');
    const { stdout } = await run('/bin/bash', ['-c', 'ulimit -f 1 && exec "$0" --import tsx "$1" "$2"', process.execPath, script, data], {
      cwd: REPO_ROOT,
      env: { ...process.env, TSX_DISABLE_CACHE: '1' },
    });
    expect(JSON.parse(stdout.trim())).toEqual(['ok', 'StorageWriteError:EFBIG', 'ok']);
    expect(await readFile(path.join(data, 'd', 's.w1.log'), 'utf8')).toBe(`${'a'.repeat(599)}\n${'c'.repeat(199)}\n`);
  });
});
