/**
 * Progress of a long-running command: a bar on an interactive terminal, and
 * nothing while running otherwise, since redraws would only litter a log file
 * or a pipe (the command prints a plain summary at the end instead).
 */
import cliProgress from 'cli-progress';

export interface ProgressCounts {
  readonly done: number;
  readonly ok: number;
  readonly failed: number;
}

export interface Progress {
  /** True when a bar is drawn (the caller then knows a total is worth computing). */
  readonly interactive: boolean;
  start(total: number): void;
  update(counts: ProgressCounts): void;
  stop(): void;
}

class TerminalProgress implements Progress {
  readonly interactive = true;
  private readonly bar: cliProgress.SingleBar;

  constructor(stream: NodeJS.WriteStream, label: string) {
    this.bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${label} [{bar}] {percentage}% | {value}/{total} | {ok} ok, {failed} failed | ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 100,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  start(total: number): void {
    this.bar.start(total, 0, { ok: 0, failed: 0 });
  }

  update(counts: ProgressCounts): void {
    this.bar.update(counts.done, { ok: counts.ok, failed: counts.failed });
  }

  stop(): void {
    this.bar.stop();
  }
}

const silent: Progress = {
  interactive: false,
  start: () => undefined,
  update: () => undefined,
  stop: () => undefined,
};

export function createProgress(stream: NodeJS.WriteStream, label: string): Progress {
  return stream.isTTY ? new TerminalProgress(stream, label) : silent;
}
