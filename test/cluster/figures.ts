/**
 * What the cluster test measures and prints: per fault, the clients' view
 * (attempts, 503s, network errors, how long after the fault the last failure
 * ended) beside the fault's own recovery times; overall, the figures of
 * SPEC 9 (lost, duplicates) over every worker host's storage.
 */
import { scanOccurrences, type Occurrences } from '../support/occurrences.js';
import type { Attempt, WorkerHost } from './pipeline.js';

export interface Phase {
  readonly fault: string;
  /** When the fault was injected (ms). */
  readonly at: number;
  /** End of the phase: the next fault, or the end of the load. */
  end: number;
  /** Recovery times of the fault, ms after `at` (or after the named moment). */
  readonly recovery: Record<string, number | string>;
}

export interface PhaseFigures {
  readonly attempts: number;
  readonly accepted: number;
  readonly answered503: number;
  readonly networkErrors: number;
  /** ms from the fault to the end of the last failed attempt of the phase (0: none failed). */
  readonly clientsOkAfterMs: number;
}

export function phaseFigures(attempts: readonly Attempt[], phase: Phase): PhaseFigures {
  const inPhase = attempts.filter((a) => a.t1 >= phase.at && a.t1 < phase.end);
  const failed = inPhase.filter((a) => a.s !== 200);
  return {
    attempts: inPhase.length,
    accepted: inPhase.length - failed.length,
    answered503: failed.filter((a) => a.s === 503).length,
    networkErrors: failed.filter((a) => a.s === 0).length,
    clientsOkAfterMs: failed.length === 0 ? 0 : Math.max(...failed.map((a) => a.t1)) - phase.at,
  };
}

/** Every worker host's storage and error store, as one. */
export async function scanAllHosts(hosts: readonly WorkerHost[]): Promise<Occurrences & { perHost: Record<string, number> }> {
  const count = new Map<string, number>();
  const files = new Map<string, string[]>();
  const perHost: Record<string, number> = {};
  let storedLines = 0;
  let filedLines = 0;
  for (const worker of hosts) {
    const scan = await scanOccurrences(worker.storageDir, worker.errorsDir);
    for (const [docId, n] of scan.count) count.set(docId, (count.get(docId) ?? 0) + n);
    for (const [docId, list] of scan.files) files.set(docId, [...(files.get(docId) ?? []), ...list.map((file) => `${worker.host.name}:${file}`)]);
    storedLines += scan.storedLines;
    filedLines += scan.filedLines;
    perHost[worker.host.name] = scan.storedLines + scan.filedLines;
  }
  return { count, files, storedLines, filedLines, perHost };
}

/** A counter of the workers' /metrics (the pool's sum), by its labels. */
export async function workerCounter(worker: WorkerHost, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await fetch(`${worker.opsUrl}/metrics`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.text());
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$/.exec(line);
    if (match?.[1] !== name || !wanted.every((pair) => (match[2] ?? '').split(',').includes(pair))) continue;
    total += Number(match[3]);
  }
  return total;
}

const seconds = (ms: number | string) => (typeof ms === 'number' ? `${(ms / 1000).toFixed(1)} s` : ms);

/** One line per fault, for the test output (and bench/RESULTS.md). */
export function formatPhase(phase: Phase, f: PhaseFigures): string {
  const recovery = Object.entries(phase.recovery)
    .map(([key, value]) => `${key} ${seconds(value)}`)
    .join(', ');
  return (
    `[cluster] ${phase.fault}: attempts=${f.attempts} accepted=${f.accepted} 503=${f.answered503} networkErrors=${f.networkErrors} ` +
    `clientsOkAfter=${seconds(f.clientsOkAfterMs)}${recovery ? `; ${recovery}` : ''}`
  );
}
