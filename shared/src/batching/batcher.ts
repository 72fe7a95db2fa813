/**
 * The one generic batcher (gateway publishing, the stats consumer, the
 * workers' persist stage): items gather until the batch holds `maxSize`
 * items or `maxBytes` bytes, or `maxWaitMs` passed since its first item,
 * whichever first. An item that alone reaches `maxBytes` goes in a batch of
 * its own; an item that would push a batch past `maxBytes` starts the next.
 */
export interface BatchLimits {
  readonly maxSize: number;
  readonly maxBytes: number;
  readonly maxWaitMs: number;
}

export class Batcher<T> {
  private items: T[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: BatchLimits,
    private readonly flush: (items: T[], bytes: number) => void,
  ) {
    if (!(limits.maxSize >= 1) || !(limits.maxBytes >= 1) || !(limits.maxWaitMs >= 0)) {
      throw new RangeError(`bad batch limits ${JSON.stringify(limits)}`);
    }
  }

  /** Items waiting for their batch to close. */
  get size(): number {
    return this.items.length;
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  add(item: T, bytes: number): void {
    if (this.items.length > 0 && this.bytes + bytes > this.limits.maxBytes) this.flushNow();
    this.items.push(item);
    this.bytes += bytes;
    if (this.items.length >= this.limits.maxSize || this.bytes >= this.limits.maxBytes) this.flushNow();
    else if (this.timer === undefined) {
      if (this.limits.maxWaitMs === 0) this.flushNow();
      else this.timer = setTimeout(() => this.flushNow(), this.limits.maxWaitMs);
    }
  }

  /** Closes the open batch now (graceful stop, or a stage that must not wait). */
  flushNow(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.items.length === 0) return;
    const items = this.items;
    const bytes = this.bytes;
    this.items = [];
    this.bytes = 0;
    this.flush(items, bytes);
  }

  /** Drops the open batch without flushing it (its items are void, e.g. their channel died). */
  discard(): T[] {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    return items;
  }
}
