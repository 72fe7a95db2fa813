/**
 * Compression of finished files in a child process at a lower CPU priority
 * (COMPRESSION_NICE): on a busy host the kernel runs conversion and
 * persistence first and compresses with what is left, so compression is
 * truly off the hot path. A backlog shows in the pending-compressions gauge;
 * the files are complete `.log`s meanwhile (readers take both forms). A
 * child that dies fails its files (they stay `.log`, recovery compresses
 * them later) and is forked again on the next file.
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Compression } from './names.js';

export interface CompressionRequest {
  readonly id: number;
  readonly src: string;
  readonly compression: Exclude<Compression, 'none'>;
}

export type CompressionReply = { readonly id: number; readonly dst: string } | { readonly id: number; readonly error: string };

const CHILD = fileURLToPath(new URL('./compression-child.ts', import.meta.url));
/** The TypeScript loader, for a child of a process that got it some other way (e.g. a test runner). */
// `require.resolve('…')` spelled out so that the dependency check (knip) sees the package.
const require = createRequire(import.meta.url);
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;

export class LowPriorityCompressor {
  private child: ChildProcess | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(dst: string): void; reject(error: Error): void }>();

  constructor(private readonly nice: number) {}

  async compress(src: string, compression: Exclude<Compression, 'none'>): Promise<string> {
    const child = this.child ?? this.start();
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.send({ id, src, compression } satisfies CompressionRequest);
    });
  }

  /** The compression process's pid, while one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Ends the child once it has nothing left to do (the writer waits for its compressions first). */
  close(): void {
    this.child?.disconnect();
    this.child = undefined;
  }

  private start(): ChildProcess {
    // This process's execArgv (the heap cap), plus the TypeScript loader when this
    // process got it some other way (e.g. a test runner).
    const execArgv = process.execArgv.some((arg) => arg.includes('tsx')) ? process.execArgv : [...process.execArgv, '--import', TSX_LOADER];
    const child = fork(CHILD, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    if (child.pid !== undefined) {
      try {
        os.setPriority(child.pid, Math.min(19, os.getPriority(child.pid) + this.nice));
      } catch {
        // Not allowed here (a container without CAP_SYS_NICE can still lower, so rarely): compress at the same priority.
      }
    }
    child.on('message', (reply: CompressionReply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (!waiter) return;
      if ('dst' in reply) waiter.resolve(reply.dst);
      else waiter.reject(new Error(reply.error));
    });
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`the compression process exited (${signal ?? code})`));
      this.pending.clear();
    });
    this.child = child;
    return child;
  }
}
