/**
 * Where each docId ended up: every record line under STORAGE_DIR and every
 * error line under ERRORS_DIR. In a module of its own (no test framework
 * imported), so processes that are not tests, such as `npm run cluster`
 * (test/cluster/run.ts), count the same way the fault tests do.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseErrorLine } from '@telemetry/shared/storage/error-store';
import { parseRecordLine, readRecordLines } from '@telemetry/shared/storage/reader';

/** Where each docId was found: record files under STORAGE_DIR, error files under ERRORS_DIR. */
export interface Occurrences {
  /** docId → number of record lines (storage) plus error lines. */
  readonly count: Map<string, number>;
  /** docId → the files holding it (relative to their root, prefixed `storage/` or `errors/`). */
  readonly files: Map<string, string[]>;
  readonly storedLines: number;
  readonly filedLines: number;
}

async function recordFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && /\.log(\.gz|\.zst|\.xz)?$/.test(e.name) && !path.relative(root, e.parentPath).startsWith('.writers'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * Every complete line of every record file under both roots. While a worker
 * runs, a file may be renamed or compressed away between listing and reading:
 * the scan then starts over (a file seen twice, `.log` and `.log.gz` during
 * compression, only matters for counts taken while a worker runs).
 */
export async function scanOccurrences(storageDir: string, errorsDir: string): Promise<Occurrences> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await scanOnce(storageDir, errorsDir);
    } catch (error) {
      if (!isMissing(error) || attempt >= 20) throw error;
    }
  }
}

async function scanOnce(storageDir: string, errorsDir: string): Promise<Occurrences> {
  const count = new Map<string, number>();
  const files = new Map<string, string[]>();
  let storedLines = 0;
  let filedLines = 0;
  const add = (docId: string, file: string) => {
    count.set(docId, (count.get(docId) ?? 0) + 1);
    const list = files.get(docId);
    if (list) list.push(file);
    else files.set(docId, [file]);
  };
  for (const [root, label] of [
    [storageDir, 'storage'],
    [errorsDir, 'errors'],
  ] as const) {
    for (const file of await recordFiles(root)) {
      const relative = `${label}/${path.relative(root, file)}`;
      for await (const line of readRecordLines(file)) {
        const docId = label === 'storage' ? parseRecordLine(line)?.docId : parseErrorLine(line)?.docId;
        if (docId === undefined) throw new Error(`not a record line in ${relative}: ${line.slice(0, 80)}`);
        add(docId, relative);
        if (label === 'storage') storedLines += 1;
        else filedLines += 1;
      }
    }
  }
  return { count, files, storedLines, filedLines };
}
