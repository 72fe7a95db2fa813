/**
 * wrk (the load generator of bench/ingest-path.ts) and the bare node:http
 * baseline in its own process. scripts/ensure-bench-tools.sh installs wrk
 * (Debian package `wrk`) when missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH_DIR, '..');
const SUBMIT_SCRIPT = path.join(BENCH_DIR, 'wrk', 'submit.lua');

/** Installs wrk with apt when it is missing (scripts/ensure-bench-tools.sh); throws when it cannot. */
export function ensureBenchTools(): void {
  const result = spawnSync('bash', [path.join(ROOT, 'scripts', 'ensure-bench-tools.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error(`scripts/ensure-bench-tools.sh failed (exit ${result.status ?? result.signal}): wrk is needed`);
}

export interface WrkLoad {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly seconds: number;
  readonly connections: number;
  readonly threads: number;
  /** File holding the body, sent as is with Content-Type: application/json. */
  readonly bodyFile: string;
  /** Prefix of the docIds ([A-Za-z0-9-]); unique per run. */
  readonly idPrefix: string;
  readonly contentEncoding?: string;
  /** Stop after about this many requests over all threads (up to `connections` more may be sent). */
  readonly maxRequests?: number;
  /** With maxRequests: each thread appends a line to this file when it has sent its share. */
  readonly doneFile?: string;
  /** wrk's per-request timeout (a request slower than this counts as a timeout error). */
  readonly timeoutSeconds?: number;
}

/** What bench/wrk/submit.lua's done() prints (latencies in µs). */
interface WrkSummary {
  requests: number;
  durationUs: number;
  bytes: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  statusErrors: number;
  timeouts: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
}

export interface WrkResult {
  /** Responses with a status below 400 (wrk counts every status > 399 as a status error). */
  readonly ok: number;
  /** Responses with a status of 400 or more. */
  readonly non2xx: number;
  /** Connect, read and write errors and timeouts. */
  readonly socketErrors: number;
  readonly seconds: number;
  /** `ok` per second. */
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly raw: WrkSummary;
}

export interface WrkRun {
  readonly result: Promise<WrkResult>;
  /** SIGINT: wrk stops the load and still reports (used to end a fixed-count load early). */
  interrupt(): void;
}

/** Starts wrk with bench/wrk/submit.lua: unique docIds, Firefox URL form, one body. */
export function startWrk(load: WrkLoad): WrkRun {
  const args = [
    `-t${load.threads}`,
    `-c${load.connections}`,
    `-d${load.seconds}s`,
    `--timeout`,
    `${load.timeoutSeconds ?? 10}s`,
    '--latency',
    '-s',
    SUBMIT_SCRIPT,
    load.url,
    '--',
    load.bodyFile,
    load.idPrefix,
    load.contentEncoding ?? '',
    String(load.maxRequests ?? 0),
    String(load.threads),
    load.doneFile ?? '',
  ];
  const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const result = (async (): Promise<WrkResult> => {
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
    if (!line) throw new Error(`wrk ended (code ${code}, signal ${signal}) without a result:\n${stdout}\n${stderr}`);
    return wrkResult(JSON.parse(line.slice('WRK_JSON '.length)) as WrkSummary);
  })();
  return {
    result,
    interrupt: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    },
  };
}

export function runWrk(load: WrkLoad): Promise<WrkResult> {
  return startWrk(load).result;
}

function wrkResult(raw: WrkSummary): WrkResult {
  const seconds = raw.durationUs / 1e6;
  const ok = raw.requests - raw.statusErrors;
  return {
    ok,
    non2xx: raw.statusErrors,
    socketErrors: raw.connectErrors + raw.readErrors + raw.writeErrors + raw.timeouts,
    seconds,
    rate: seconds > 0 ? ok / seconds : 0,
    p50Ms: raw.p50Us / 1000,
    p99Ms: raw.p99Us / 1000,
    p999Ms: raw.p999Us / 1000,
    maxMs: raw.maxUs / 1000,
    raw,
  };
}

export interface BareHttp {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** The HTTP baseline in its own process (bench/bare-http.mjs: reads the body, answers 200). */
export async function startBareHttp(): Promise<BareHttp> {
  const child = spawn(process.execPath, [path.join(BENCH_DIR, 'bare-http.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (chunk: string): void => {
      out += chunk;
      const newline = out.indexOf('\n');
      if (newline < 0) return;
      child.stdout?.off('data', onData);
      try {
        resolve((JSON.parse(out.slice(0, newline)) as { port: number }).port);
      } catch {
        reject(new Error(`bench/bare-http.mjs printed ${out.slice(0, newline)}, not {"port":N}`));
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => reject(new Error(`bench/bare-http.mjs exited (${code}) before listening`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
