/**
 * Copies a child's output to ours a whole line at a time, so that lines of
 * several children never interleave mid-line (their JSON logs stay one
 * record per line), and keeps the last lines for error reports.
 */
import type { Writable } from 'node:stream';

export class LineForwarder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The last lines seen (at most `tailLines`), without their newline. */
  readonly tail: string[] = [];

  constructor(
    private readonly target: Writable,
    private readonly tailLines = 40,
    /** A "line" this long without a newline is passed on as it is. */
    private readonly maxLineBytes = 1 << 20,
  ) {}

  write(chunk: Buffer): void {
    const lastNewline = chunk.lastIndexOf(0x0a);
    if (lastNewline === -1) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes >= this.maxLineBytes) this.flush();
      return;
    }
    const complete = Buffer.concat([...this.pending, chunk.subarray(0, lastNewline + 1)]);
    const rest = chunk.subarray(lastNewline + 1);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    this.emit(complete);
  }

  /** Passes on what is left (a last line without a newline). */
  flush(): void {
    if (this.pendingBytes === 0) return;
    const rest = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.emit(Buffer.concat([rest, Buffer.from('\n')]));
  }

  /** Forgets the tail (a restarted child starts a new report). */
  reset(): void {
    this.flush();
    this.tail.length = 0;
  }

  private emit(lines: Buffer): void {
    this.target.write(lines);
    const text = lines.toString('utf8');
    for (const line of text.slice(0, -1).split('\n').slice(-this.tailLines)) {
      this.tail.push(line.length > 4096 ? `${line.slice(0, 4096)}…` : line);
    }
    if (this.tail.length > this.tailLines) this.tail.splice(0, this.tail.length - this.tailLines);
  }
}
