/**
 * Telling which submission kills its worker (SPEC 3: a message that keeps
 * failing never crash-loops the pool). Only submissions of redelivered
 * messages are suspects (a first delivery costs nothing here): while one is
 * converted its id sits in a small journal file of this writer; a process
 * that dies leaves it there, and the next process of the same writer id adds
 * one to that id's death count in Redis (shared by every worker, on every
 * host). A suspect whose count reached POISON_LIMIT is dead-lettered with the
 * reason instead of converted. RabbitMQ's delivery limit on the persist
 * queue is the backstop for deaths outside conversion.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import type { Redis } from 'ioredis';
import type { SuspectJournal } from './stages/process-batch.js';

/** A submission's identity across redeliveries, retries and replays. */
export function suspectId(submission: Submission): string {
  return `${submission.docId}:${submission.receivedAtMs}:${submission.bodyBytes}`;
}

export class SuspectJournalFile implements SuspectJournal {
  private readonly current = new Set<string>();

  private constructor(private readonly file: string) {}

  /** Opens the journal; returns it with the ids a dead predecessor left (then forgotten). */
  static open(file: string): { journal: SuspectJournalFile; leftover: string[] } {
    let leftover: string[] = [];
    try {
      leftover = readFileSync(file, 'utf8').split('\n').filter((line) => line !== '');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const journal = new SuspectJournalFile(file);
    journal.write();
    return { journal, leftover };
  }

  enter(id: string): void {
    this.current.add(id);
    this.write();
  }

  leave(id: string): void {
    this.current.delete(id);
    this.write();
  }

  /** No fsync: the journal must outlive the process, not the machine. */
  private write(): void {
    writeFileSync(this.file, [...this.current].join('\n'));
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
