import os from 'node:os';

/** Runs `fn` repeatedly for `durationMs` and returns operations per second. */
export async function measureRate(fn: () => unknown, durationMs: number): Promise<number> {
  let operations = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(durationMs) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    // Batches of 16 keep the clock reads out of the measurement.
    for (let i = 0; i < 16; i += 1) await fn();
    operations += 16;
    now = process.hrtime.bigint();
  }
  return operations / (Number(now - start) / 1e9);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** One line describing the machine, for bench/RESULTS.md. */
export function machineDescription(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

export interface BenchResult {
  name: string;
  /** Markdown table rows (without header) or paragraphs. */
  markdown: string;
  /** True when the target stated by the issue is met. */
  targetMet: boolean;
}
