/**
 * Background compression of finished files, off the append path: the writer
 * enqueues and returns at once. A small concurrency limit keeps a burst of
 * rotations (every partition expiring at once) from spawning hundreds of
 * compressors that would starve the workers of CPU.
 */
import type { Logger } from '../logger.js';
import { compressFileAtomically } from './compress-file.js';
import type { Compression } from './names.js';

export interface CompressionEvents {
  compressed(src: string, dst: string): void;
  failed(src: string, error: unknown): void;
}

export class CompressionQueue {
  private running = 0;
  private readonly waiting: string[] = [];
  private readonly known = new Set<string>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly compression: Compression,
    private readonly concurrency: number,
    private readonly logger: Logger,
    private readonly events: CompressionEvents,
    private readonly compressFile: (src: string, compression: Exclude<Compression, 'none'>) => Promise<string> = compressFileAtomically,
  ) {}

  /** Number of files waiting or being compressed. */
  get pending(): number {
    return this.known.size;
  }

  has(file: string): boolean {
    return this.known.has(file);
  }

  /** Queue a finished file. With compression 'none' finished files stay as they are. */
  enqueue(file: string): void {
    if (this.compression === 'none' || this.known.has(file)) return;
    this.known.add(file);
    this.waiting.push(file);
    this.pump();
  }

  /** Resolves when nothing is waiting or running. */
  idle(): Promise<void> {
    if (this.known.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    const compression = this.compression;
    if (compression === 'none') return;
    while (this.running < this.concurrency) {
      const file = this.waiting.shift();
      if (file === undefined) return;
      this.running += 1;
      // A compressor that throws instead of rejecting must not leave the slot taken.
      void Promise.resolve()
        .then(() => this.compressFile(file, compression))
        .then(
          (dst) => this.events.compressed(file, dst),
          (error: unknown) => {
            // The finished .log stays in place; the next recover() retries it.
            this.logger.error({ err: error, file }, 'compressing a finished storage file failed');
            this.events.failed(file, error);
          },
        )
        .finally(() => {
          this.running -= 1;
          this.known.delete(file);
          this.pump();
          if (this.known.size === 0) {
            const waiters = this.idleWaiters;
            this.idleWaiters = [];
            for (const resolve of waiters) resolve();
          }
        });
    }
  }
}
