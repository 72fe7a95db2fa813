/**
 * PartitionedWriter: durable batched appends to this writer's own files of a
 * partitioned tree (SPEC 5), with rotation and background compression.
 *
 * - One write and one fsync per touched file per batch (plus one fsync per
 *   directory where a file was created); `appendBatch` resolves only when all
 *   of it is durable, so the caller may acknowledge.
 * - A batch is all or nothing as far as the writer can make it: if any file
 *   fails, the files that succeeded are cut back to their size before the
 *   batch, so a retry of the whole batch does not duplicate lines.
 * - Operations are serialised (appends, rotation, recovery, close), so a timer
 *   calling `rotateExpired()` never races an append.
 * - Recovery runs before the first append if `recover()` was not called:
 *   files of a crashed run with this writerId are finished, never appended to.
 */
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { systemClock } from '../clock.js';
import { StorageWriteError } from '../errors.js';
import { silentLogger } from '../logger.js';
import { CompressionQueue } from './compression-queue.js';
import {
  ActivePathTakenError,
  describeLeftover,
  finishFile,
  rollbackChunk,
  writeChunk,
  type ActiveFile,
  type WriteOutcome,
} from './file-ops.js';
import { fsyncDir } from './fsutil.js';
import { assertValidWriterId, resolveTarget, type StorageTarget } from './names.js';
import { findLeftovers } from './recovery.js';
import {
  asStorageError,
  type PartitionedWriterOptions,
  type RecoveryReport,
  type StorageRecord,
  type WriterCounters,
} from './types.js';

export type { PartitionedWriterOptions, RecoveryReport, StorageRecord, WriterCounters } from './types.js';

export class PartitionedWriter {
  readonly rootDir: string;
  readonly writerId: string;
  private readonly options: Required<Omit<PartitionedWriterOptions, 'rootDir' | 'writerId' | 'compressFile'>>;
  private readonly files = new Map<string, ActiveFile>();
  private readonly compressor: CompressionQueue;
  private readonly stats: WriterCounters = {
    bytesWritten: 0,
    linesWritten: 0,
    batchesFailed: 0,
    filesFinished: 0,
    filesCompressed: 0,
    compressionFailures: 0,
    finishFailures: 0,
    leftoversRecovered: 0,
  };
  private tail: Promise<unknown> = Promise.resolve();
  private recovered = false;
  private closed = false;

  constructor(options: PartitionedWriterOptions) {
    assertValidWriterId(options.writerId);
    if (!(options.maxFileBytes > 0) || !(options.maxFileAgeMs > 0)) {
      throw new RangeError('maxFileBytes and maxFileAgeMs must be positive');
    }
    this.rootDir = path.resolve(options.rootDir);
    this.writerId = options.writerId;
    this.options = {
      maxFileBytes: options.maxFileBytes,
      maxFileAgeMs: options.maxFileAgeMs,
      compression: options.compression,
      clock: options.clock ?? systemClock,
      logger: options.logger ?? silentLogger,
      compressionConcurrency: Math.max(1, options.compressionConcurrency ?? 2),
    };
    this.compressor = new CompressionQueue(options.compression, this.options.compressionConcurrency, this.options.logger, {
      compressed: () => (this.stats.filesCompressed += 1),
      failed: () => (this.stats.compressionFailures += 1),
    }, options.compressFile);
  }

  /** A snapshot of the counters, for metrics. */
  get counters(): Readonly<WriterCounters> {
    return { ...this.stats };
  }

  get openFiles(): number {
    return this.files.size;
  }

  get pendingCompressions(): number {
    return this.compressor.pending;
  }

  /** Finish and queue for compression whatever a crashed run of this writerId left. */
  recover(): Promise<RecoveryReport> {
    return this.serial(() => this.doRecover());
  }

  /** Append records; resolves once every line is written and fsynced. */
  appendBatch(records: readonly StorageRecord[]): Promise<void> {
    return this.serial(() => this.doAppend(records));
  }

  /** Finish files open for `maxFileAgeMs` or more. Never rejects: failures are logged and counted. */
  rotateExpired(): Promise<number> {
    return this.serial(async () => {
      const now = this.options.clock.nowMs();
      let finished = 0;
      for (const file of [...this.files.values()]) {
        if (now - file.openedAtMs < this.options.maxFileAgeMs) continue;
        try {
          await this.finishTracked(file);
          finished += 1;
        } catch (error) {
          this.stats.finishFailures += 1;
          this.options.logger.error({ err: error, file: file.target.activePath }, 'finishing an expired file failed');
        }
      }
      return finished;
    });
  }

  /** Finish every open file and wait for all compressions. Further appends are refused. */
  async close(): Promise<void> {
    const failures = await this.serial(async () => {
      this.closed = true;
      const errors: unknown[] = [];
      for (const file of [...this.files.values()]) {
        await this.finishTracked(file).catch((error: unknown) => errors.push(error));
      }
      return errors;
    });
    await this.compressor.idle();
    if (failures.length > 0) throw asStorageError(failures[0], `closing: ${failures.length} file(s) not finished`);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async doAppend(records: readonly StorageRecord[]): Promise<void> {
    if (this.closed) throw new Error('PartitionedWriter is closed');
    // Validate everything before touching the disk: a bad record is a bug upstream.
    const groups = new Map<string, { target: StorageTarget; lines: string[] }>();
    for (const record of records) {
      if (record.line.includes('\n')) throw new Error('a storage line must not contain a newline');
      const target = resolveTarget(this.rootDir, this.writerId, record.dir, record.fileStem);
      const group = groups.get(target.activePath);
      if (group) group.lines.push(record.line);
      else groups.set(target.activePath, { target, lines: [record.line] });
    }
    if (groups.size === 0) return;
    if (!this.recovered) await this.doRecover();

    const now = this.options.clock.nowMs();
    try {
      // An expired file gets no new lines: finish it, the batch opens a new one.
      for (const key of groups.keys()) {
        const file = this.files.get(key);
        if (file && now - file.openedAtMs >= this.options.maxFileAgeMs) await this.finishTracked(file);
      }
    } catch (error) {
      this.stats.batchesFailed += 1;
      throw asStorageError(error, 'rotating before append');
    }

    const jobs = [...groups.values()].map(({ target, lines }) => {
      const data = Buffer.from(`${lines.join('\n')}\n`);
      return this.writeOne(target, data, now).then((outcome) => ({ outcome, lines: lines.length }));
    });
    const settled = await Promise.allSettled(jobs);
    const done = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    if (failed.length === 0) {
      const createdDirs = new Set(done.filter((d) => d.outcome.created).map((d) => d.outcome.file.target.dirAbs));
      await Promise.all([...createdDirs].map((dir) => fsyncDir(dir))).catch((error: unknown) => failed.push(error));
    }
    if (failed.length > 0) {
      this.stats.batchesFailed += 1;
      await Promise.all(done.map((d) => this.rollback(d.outcome)));
      throw asStorageError(failed[0], `append failed for ${failed.length} of ${groups.size} file(s)`);
    }

    for (const { outcome, lines } of done) {
      outcome.file.size = outcome.end;
      this.stats.bytesWritten += outcome.end - outcome.start;
      this.stats.linesWritten += lines;
    }
    for (const { outcome } of done) {
      if (outcome.file.size < this.options.maxFileBytes) continue;
      // The lines are durable already: a failed rename only delays rotation.
      await this.finishTracked(outcome.file).catch((error: unknown) => {
        this.stats.finishFailures += 1;
        this.options.logger.error({ err: error, file: outcome.file.target.activePath }, 'rotating a full file failed');
      });
    }
  }

  private async writeOne(target: StorageTarget, data: Buffer, now: number): Promise<WriteOutcome> {
    const known = this.files.get(target.activePath);
    const file = known ?? { target, size: 0, openedAtMs: now };
    // Tracked before the attempt: a failed create may still have made the file.
    this.files.set(target.activePath, file);
    try {
      return await writeChunk(file, data, known !== undefined);
    } catch (error) {
      if (!(error instanceof ActivePathTakenError)) throw error;
    }
    // Someone left a file at our active name (a run that crashed after recovery
    // scanned, or a duplicate writerId): finish it as a leftover, then create ours.
    await this.finishLeftover(target.activePath);
    return writeChunk(file, data, false);
  }

  private async rollback(outcome: WriteOutcome): Promise<void> {
    try {
      await rollbackChunk(outcome);
    } catch (error) {
      // The extra lines stay: a retry duplicates them (dedup absorbs it), nothing is lost.
      this.options.logger.error({ err: error, file: outcome.file.target.activePath }, 'rolling back a batch failed');
    }
  }

  private async finishTracked(file: ActiveFile): Promise<void> {
    this.files.delete(file.target.activePath);
    let finished: string | undefined;
    try {
      finished = await finishFile(file.target, file.openedAtMs, file.size);
    } catch (error) {
      this.files.set(file.target.activePath, file);
      throw error;
    }
    if (finished === undefined) return;
    this.stats.filesFinished += 1;
    this.compressor.enqueue(finished);
  }

  private async finishLeftover(activePath: string): Promise<boolean> {
    const leftover = await describeLeftover(activePath);
    if (!leftover) throw new StorageWriteError(`${activePath} exists and is not a regular file`);
    this.options.logger.warn({ file: activePath }, 'finishing a file left by an earlier run of this writer');
    const finished = await finishFile(leftover.target, leftover.seqFrom);
    this.stats.leftoversRecovered += 1;
    if (finished === undefined) return false;
    this.stats.filesFinished += 1;
    this.compressor.enqueue(finished);
    return true;
  }

  private async doRecover(): Promise<RecoveryReport> {
    const report: RecoveryReport = { activeFinished: 0, compressionsQueued: 0, duplicatesRemoved: 0, tempRemoved: 0 };
    try {
      const left = await findLeftovers(this.rootDir, this.writerId);
      // A recover() called mid-run must not touch a compression in progress.
      const busy = (file: string): boolean => this.compressor.has(file.replace(/\.log\.[a-z]+\.tmp$/, '.log'));
      for (const file of left.temp) {
        if (busy(file)) continue;
        await rm(file, { force: true });
        report.tempRemoved += 1;
      }
      for (const file of left.alreadyCompressed) {
        if (this.compressor.has(file)) continue;
        await rm(file, { force: true });
        await fsyncDir(path.dirname(file));
        report.duplicatesRemoved += 1;
      }
      for (const file of left.active) {
        if (this.files.has(file)) continue; // ours, still being written
        if (await this.finishLeftover(file)) report.activeFinished += 1;
      }
      for (const file of left.finished) {
        if (this.options.compression === 'none' || this.compressor.has(file)) continue;
        this.compressor.enqueue(file);
        report.compressionsQueued += 1;
      }
    } catch (error) {
      throw asStorageError(error, 'recovering leftover files');
    }
    this.recovered = true;
    if (report.activeFinished + report.compressionsQueued + report.duplicatesRemoved + report.tempRemoved > 0) {
      this.options.logger.info({ ...report, writerId: this.writerId }, 'recovered files of an earlier run');
    }
    return report;
  }
}
