/**
 * The intermediate files of one run, under `<work-dir>/<run id>/`:
 *   map-<i>/part-<r>.jsonl   map task i's output for reducer r ("<key JSON>\t<value JSON>" lines)
 *   map-<i>/output.txt       map task i's output lines of a map-only job
 *   map-<i>/report.json      what map task i skipped (bad records, unreadable files)
 *   reduce-<r>.txt           reducer r's output lines
 * Every file is written under a unique temp name and renamed when complete,
 * so a task retried after its worker died (or a slow duplicate) can never
 * leave a half-written file where the next phase reads.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

export function newRunId(): string {
  return `mr-${new Date().toISOString().replace(/[-:T.Z]/g, '').slice(0, 14)}-${randomBytes(4).toString('hex')}`;
}

const mapDir = (runDir: string, mapIndex: number): string => path.join(runDir, `map-${mapIndex}`);
export const partitionFile = (runDir: string, mapIndex: number, partition: number): string =>
  path.join(mapDir(runDir, mapIndex), `part-${partition}.jsonl`);
export const mapOutputFile = (runDir: string, mapIndex: number): string => path.join(mapDir(runDir, mapIndex), 'output.txt');
export const reportFile = (runDir: string, mapIndex: number): string => path.join(mapDir(runDir, mapIndex), 'report.json');
export const reduceOutputFile = (runDir: string, partition: number): string => path.join(runDir, `reduce-${partition}.txt`);

const FLUSH_BYTES = 1 << 20;

/** Appends text to a temp file in large writes; `commit` fsyncs and renames it into place. */
export class AtomicTextWriter {
  private handle: FileHandle | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  private readonly temp: string;

  constructor(readonly target: string) {
    this.temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  }

  /** True when enough is buffered that the caller should await flush(). */
  append(text: string): boolean {
    this.pending.push(text);
    // Length in code units: close enough to bytes to decide when to flush.
    this.pendingBytes += text.length;
    return this.pendingBytes >= FLUSH_BYTES;
  }

  async flush(): Promise<void> {
    if (this.handle === undefined) {
      // Not recursive: a run directory removed by its client (run interrupted)
      // must make a late task fail, not quietly recreate it.
      await mkdir(path.dirname(this.temp)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      this.handle = await open(this.temp, 'w');
    }
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    await this.handle.write(text);
  }

  async commit(): Promise<void> {
    await this.flush();
    const handle = this.handle;
    if (handle === undefined) return;
    this.handle = undefined;
    try {
      // The next phase may run on another host: the data must be on the shared disk first.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(this.temp, this.target);
  }

  async abort(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
    await rm(this.temp, { force: true });
  }
}

/** Concatenates `parts` in order into `output`, atomically (temp + rename). */
export async function concatenateFiles(parts: readonly string[], output: string): Promise<void> {
  const target = path.resolve(output);
  const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await mkdir(path.dirname(target), { recursive: true });
  const out = createWriteStream(temp);
  try {
    for (const part of parts) await pipeline(createReadStream(part), out, { end: false });
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
    await rename(temp, target);
  } catch (error) {
    out.destroy();
    await rm(temp, { force: true });
    throw error;
  }
}

export async function removeRunDir(runDir: string): Promise<void> {
  await rm(runDir, { recursive: true, force: true });
}
