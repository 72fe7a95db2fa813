/**
 * Progress of a run on a terminal (SPEC 7): files and bytes done, records,
 * rate and ETA, on stderr so stdout stays clean. Off a terminal nothing is
 * drawn; the caller prints a plain summary at the end (summaryLine).
 */
import cliProgress from 'cli-progress';
import type { MapReduceResult, PlanSummary, RunProgress } from './run.js';

export interface RunReporter {
  onPlan(plan: PlanSummary): void;
  onProgress(progress: RunProgress): void;
  stop(): void;
}

const MIB = 1024 * 1024;

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(bytes < 10 * MIB ? 2 : 1)} MiB`;
}

class TerminalReporter implements RunReporter {
  private readonly bar: cliProgress.SingleBar;
  private plan: PlanSummary | undefined;
  private readonly startedAt = Date.now();
  private started = false;

  constructor(stream: NodeJS.WriteStream) {
    this.bar = new cliProgress.SingleBar(
      {
        stream,
        format: 'mapreduce [{bar}] {percentage}% | {phase} | files {files}/{totalFiles} | {bytesText} | {records} records, {rate}/s | ETA {eta_formatted}',
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  onPlan(plan: PlanSummary): void {
    this.plan = plan;
    // Progress is measured in bytes: files differ in size by orders of magnitude.
    this.bar.start(Math.max(plan.bytes, 1), 0, this.payload(0, 0, 0, 'map'));
    this.started = true;
  }

  onProgress(progress: RunProgress): void {
    if (!this.started || this.plan === undefined) return;
    const phase = progress.phase === 'map' ? 'map' : `reduce ${progress.reducesDone}/${this.plan.reduceTasks}`;
    this.bar.update(progress.map.bytes, this.payload(progress.map.files, progress.map.bytes, progress.map.records, phase));
  }

  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }

  private payload(files: number, bytes: number, records: number, phase: string): Record<string, string | number> {
    const seconds = Math.max((Date.now() - this.startedAt) / 1000, 0.001);
    return {
      phase,
      files,
      totalFiles: this.plan?.files ?? 0,
      bytesText: `${mib(bytes)}/${mib(this.plan?.bytes ?? 0)}`,
      records,
      rate: Math.round(records / seconds),
    };
  }
}

const silent: RunReporter = { onPlan: () => undefined, onProgress: () => undefined, stop: () => undefined };

export function createRunReporter(stream: NodeJS.WriteStream): RunReporter {
  return stream.isTTY ? new TerminalReporter(stream) : silent;
}

/** Bad records and unreadable files listed one by one in the summary; the rest are counted. */
const LISTED = 20;

/** The plain summary printed at the end of a run. */
export function summaryLines(result: MapReduceResult): string[] {
  const seconds = result.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(result.map.records / seconds) : result.map.records;
  const lines = [
    `mapreduce: ${result.files} file(s), ${mib(result.bytes)}, ${result.map.records} record(s) in ${seconds.toFixed(1)} s ` +
      `(${rate} records/s); ${result.mapTasks} map task(s), ${result.reduceTasks} reduce task(s); ` +
      `${result.reduceTasks > 0 ? result.reduce.pairs : result.map.pairs} output line(s)`,
  ];
  if (result.walk.pruned > 0) lines.push(`${result.walk.pruned} file(s) or director(ies) left out by the input filter (never opened)`);
  if (result.walk.ignored > 0) lines.push(`${result.walk.ignored} entr(ies) that are not storage files ignored`);
  if (result.map.tornLines > 0) lines.push(`${result.map.tornLines} torn line(s) (cut short by a crash) skipped`);
  if (result.map.invalidLines > 0) lines.push(`${result.map.invalidLines} line(s) not "<docId>\\t<json>" skipped`);
  if (result.map.combines > 0) lines.push(`combine ran ${result.map.combines} time(s)`);
  if (result.excludedFiles > 0) lines.push(`${result.excludedFiles} file(s) left out as processed already`);
  for (const file of result.unreadableFiles.slice(0, LISTED)) lines.push(`unreadable file skipped: ${file}`);
  if (result.unreadableFiles.length > LISTED) lines.push(`… and ${result.unreadableFiles.length - LISTED} more unreadable file(s)`);
  if (result.badRecords.length > 0) lines.push(`${result.badRecords.length} bad record(s) skipped (--max-bad-records):`);
  for (const record of result.badRecords.slice(0, LISTED)) lines.push(`  ${record.message}`);
  if (result.badRecords.length > LISTED) lines.push(`  … and ${result.badRecords.length - LISTED} more`);
  return lines;
}
