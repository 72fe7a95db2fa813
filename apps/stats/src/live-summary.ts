/**
 * The SSE stream's data: ONE summary of the last minute per tick, computed
 * while anyone listens and shared by every connection (before, each
 * connection ran its own reads every second: 2,000 clients would have filled
 * a core). Connections past `maxStreams` are refused with Overloaded (503).
 */
import type { Summary } from './stats-service.js';
import { Overloaded } from './errors.js';

export interface LiveSummaryOptions {
  readonly intervalMs: number;
  readonly maxStreams: number;
  /** Computes one summary; a failure skips that tick for everyone. */
  readonly compute: () => Promise<Summary>;
}

type Listener = (data: string) => void;

export class LiveSummary {
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | undefined;
  private computing = false;

  constructor(private readonly options: LiveSummaryOptions) {}

  get streams(): number {
    return this.listeners.size;
  }

  /** Adds a listener called with each tick's JSON; returns its removal. Throws Overloaded at the cap. */
  subscribe(listener: Listener): () => void {
    if (this.listeners.size >= this.options.maxStreams) {
      throw new Overloaded(`too many live streams (${this.listeners.size}, STATS_MAX_STREAMS)`, 5, 'streams');
    }
    this.listeners.add(listener);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.options.intervalMs).unref();
      void this.tick();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.close();
    };
  }

  /** Stops ticking (the listeners stay; used at shutdown). */
  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    // A slow Redis must not stack computations: a tick still running swallows the next.
    if (this.computing) return;
    this.computing = true;
    try {
      const data = JSON.stringify(await this.options.compute());
      for (const listener of this.listeners) listener(data);
    } catch {
      // Redis away: no event this tick; the stream stays open and resumes.
    } finally {
      this.computing = false;
    }
  }
}
