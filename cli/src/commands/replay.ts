/**
 * `telemetry replay FILE... --to URL`: re-submits archived submissions to a
 * gateway as clients would (SPEC 10), e.g. to load 2013 packed logs into a new
 * pipeline or to re-send records after an outage. Re-running a replay is safe:
 * workers deduplicate by docId (DEDUP_TTL).
 */
import { access, constants } from 'node:fs/promises';
import type { Command } from 'commander';
import { integerOption } from '../options.js';
import { createProgress } from '../progress.js';
import { NETWORK_ERROR, sendRecord, type SendOptions } from '../replay/sender.js';
import { countRecords, emptyCounters, readRecords, ReplayInputError, type ReplayRecord } from '../replay/sources.js';
import { UsageError } from '../usage-error.js';
import { writeOrWait } from './io.js';

interface ReplayOptions {
  to: string;
  concurrency?: string;
  maxAttempts?: string;
  retryDelay?: string;
  timeout?: string;
}

/** Key of the non-record lines in the printed counts. */
const INVALID_LINE = 'invalid_line';
/** Failures listed one by one on stderr; beyond that only counted (a dead gateway fails every record). */
const MAX_LISTED_FAILURES = 20;

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('Send every record of packed logs or "<docId>\\t<json>" files to a gateway as a client would; prints counts by HTTP status')
    .argument('<file...>', 'packed logs (2013 format) or "<docId>\\t<json>" files (plain, .gz, .zst, .xz, .lzma)')
    .requiredOption('--to <url>', 'the gateway base URL, e.g. http://127.0.0.1:8080')
    .option('--concurrency <n>', 'requests in flight at once (default 8)')
    .option('--max-attempts <n>', 'attempts per record, first one included, on 5xx or network errors (default 5)')
    .option('--retry-delay <ms>', 'delay before the first retry, doubled for each further one (default 1000)')
    .option('--timeout <ms>', 'give up on one request after this long; counts as a network error (default 30000)')
    .action(async (files: string[], options: ReplayOptions) => {
      process.exitCode = await runReplay(files, options);
    });
}

function parseBaseUrl(to: string): string {
  const url = URL.canParse(to) ? new URL(to) : undefined;
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new UsageError(`--to must be the gateway's http(s) base URL, e.g. http://127.0.0.1:8080, got "${to}"`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function sendOptions(options: ReplayOptions): SendOptions {
  return {
    baseUrl: parseBaseUrl(options.to),
    maxAttempts: integerOption('--max-attempts', options.maxAttempts, 5, 1, 100),
    retryDelayMs: integerOption('--retry-delay', options.retryDelay, 1_000, 0, 600_000),
    maxRetryDelayMs: 60_000,
    timeoutMs: integerOption('--timeout', options.timeout, 30_000, 1, 3_600_000),
  };
}

/** Runs a replay; resolves to the exit code (0: every record got a 2xx). */
async function runReplay(files: readonly string[], options: ReplayOptions): Promise<number> {
  const send = sendOptions(options);
  const concurrency = integerOption('--concurrency', options.concurrency, 8, 1, 1_000);
  for (const file of files) {
    // Checked up front: a typo in the fourth file name must not surface after three files were sent.
    await access(file, constants.R_OK).catch((error: unknown) => {
      throw new UsageError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  const startedAt = Date.now();
  const progress = createProgress(process.stderr, 'replay');
  const counters = emptyCounters();
  const tally = new Map<string, number>();
  const failures: string[] = [];
  const totals = { done: 0, ok: 0, failed: 0, retries: 0 };
  let inputError: ReplayInputError | undefined;

  if (progress.interactive) progress.start(await countRecords(files));
  const records = readRecords(files, counters);
  const handle = async (record: ReplayRecord): Promise<void> => {
    const result = await sendRecord(record, send);
    tally.set(result.outcome, (tally.get(result.outcome) ?? 0) + 1);
    totals.done += 1;
    totals.retries += result.attempts - 1;
    if (result.ok) totals.ok += 1;
    else {
      totals.failed += 1;
      if (failures.length < MAX_LISTED_FAILURES) failures.push(`${record.file}\t${record.docId}\t${result.outcome}${result.detail ? `\t${result.detail}` : ''}`);
    }
    progress.update(totals);
  };
  // Each lane pulls the next record from the one shared reader: async
  // generators queue concurrent next() calls, so every record is sent once.
  const lane = async (): Promise<void> => {
    for (;;) {
      const next = await records.next();
      if (next.done) return;
      await handle(next.value);
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: concurrency }, lane));
  progress.stop();
  for (const settled of lanes) {
    if (settled.status === 'rejected') {
      if (!(settled.reason instanceof ReplayInputError)) throw settled.reason;
      inputError = settled.reason;
    }
  }
  if (counters.invalidLines > 0) tally.set(INVALID_LINE, counters.invalidLines);

  await printCounts(tally);
  const err = process.stderr;
  if (inputError) await writeOrWait(err, `telemetry replay: stopped, cannot read ${inputError.message}\n`);
  for (const failure of failures) await writeOrWait(err, `failed\t${failure}\n`);
  if (totals.failed > failures.length) await writeOrWait(err, `(${totals.failed - failures.length} more failed records not listed)\n`);
  if (counters.invalidLines > 0) await writeOrWait(err, `${counters.invalidLines} line(s) not "<docId>\\t<json>": not sent\n`);
  if (counters.tornLines > 0) await writeOrWait(err, `${counters.tornLines} torn line(s) (cut short by a crash) skipped\n`);
  if (counters.trailingBytes > 0) await writeOrWait(err, `${counters.trailingBytes} byte(s) after the last complete packed record ignored\n`);
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  await writeOrWait(
    err,
    `replayed ${totals.done} record(s) from ${files.length} file(s) in ${seconds} s: ` +
      `${totals.ok} accepted, ${totals.failed} failed, ${totals.retries} retried request(s)\n`,
  );
  return totals.failed > 0 || counters.invalidLines > 0 || inputError ? 1 : 0;
}

/** `<status>: <count>` lines, statuses in numeric order, then the named outcomes. */
async function printCounts(tally: ReadonlyMap<string, number>): Promise<void> {
  const rank = (key: string): number => (/^\d+$/.test(key) ? Number(key) : key === NETWORK_ERROR ? 1_000 : 1_001);
  const keys = [...tally.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const key of keys) await writeOrWait(process.stdout, `${key}: ${tally.get(key) ?? 0}\n`);
}
