/**
 * Telling which submission kills its worker (SPEC 3: a message that keeps
 * failing never crash-loops the pool). While a submission is decoded or
 * converted its id sits in a small journal file of this writer (one pwrite
 * before and one after: a few microseconds); a process that dies leaves it
 * there, and the next process of the same writer id adds one to that id's
 * death count in Redis (shared by every worker, on every host). A submission
 * of a redelivered message whose count reached POISON_LIMIT is dead-lettered
 * with the reason instead of converted (only redelivered messages are looked
 * up). RabbitMQ's delivery limit on the persist queue is the backstop for
 * deaths outside conversion.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import type { Redis } from 'ioredis';
import type { SuspectJournal } from './stages/process-batch.js';

/** A submission's identity across redeliveries, retries and replays. */
export function suspectId(submission: Submission): string {
  return `${submission.docId}:${submission.receivedAtMs}:${submission.bodyBytes}`;
}

/**
 * A small file holding a set of lines that must outlive this process (not the
 * machine: no fsync), rewritten in place with one pwrite, padded with
 * newlines over what was there (no truncate).
 */
export class LinesFile {
  private writtenBytes = 0;

  private constructor(private readonly fd: number) {}

  /** Opens the file; returns it with the lines a dead predecessor left (then forgotten). */
  static open(file: string): { file: LinesFile; leftover: string[] } {
    let leftover: string[] = [];
    try {
      leftover = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    return { file: new LinesFile(openSync(file, 'w')), leftover };
  }

  write(lines: Iterable<string>): void {
    const text = [...lines].join('\n');
    const buffer = Buffer.alloc(Math.max(this.writtenBytes, Buffer.byteLength(text)), '\n');
    buffer.write(text);
    writeSync(this.fd, buffer, 0, buffer.length, 0);
    this.writtenBytes = buffer.length;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The ids of the submissions being decoded or converted now. */
export class SuspectJournalFile implements SuspectJournal {
  private readonly current = new Set<string>();

  private constructor(private readonly file: LinesFile) {}

  /** Opens the journal; returns it with the ids a dead predecessor left. */
  static open(path: string): { journal: SuspectJournalFile; leftover: string[] } {
    const { file, leftover } = LinesFile.open(path);
    return { journal: new SuspectJournalFile(file), leftover };
  }

  enter(id: string): void {
    this.current.add(id);
    this.file.write(this.current);
  }

  leave(id: string): void {
    this.current.delete(id);
    this.file.write(this.current);
  }

  close(): void {
    this.file.close();
  }
}

export class DeathCounts {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlMs: number,
  ) {}

  async add(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.incr(this.prefix + id).pexpire(this.prefix + id, this.ttlMs);
    await pipeline.exec();
  }

  async get(ids: readonly string[]): Promise<number[]> {
    if (ids.length === 0) return [];
    const values = await this.redis.mget(...ids.map((id) => this.prefix + id));
    return values.map((value) => Number(value ?? 0) || 0);
  }
}
