/**
 * Soak (issue 6): the whole stack at half its measured capacity for
 * SOAK_SECONDS (default 600), the RSS of every process and the queue depths
 * sampled every 10 s. Memory must stay flat (the least-squares slope of each
 * process's RSS is reported) and the queues must not grow.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import type { BenchResult } from './harness.js';
import { leastSquaresSlope, theilSenSlope } from './slope.js';
import { benchPingBody, submitLoad } from './load.js';
import { AMQP_URL, benchStack, startApp, waitForHttp, type AppProcess } from './stack.js';
const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const SAMPLE_SECONDS = 10;
const SAMPLES_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'soak-samples.csv');
const BODY = benchPingBody();

/** RSS (KiB) of `roots` and all their descendants, by "name pid". */
async function rssTree(roots: Map<number, string>): Promise<Map<string, number>> {
  const { stdout } = await promisify(execFile)('ps', ['-eo', 'pid=,ppid=,rss=']);
  const rows = stdout.trim().split('\n').map((line) => line.trim().split(/\s+/).map(Number));
  const owner = new Map<number, string>(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid = 0, ppid = 0] of rows) {
      const parent = owner.get(ppid);
      if (parent && !owner.has(pid)) {
        owner.set(pid, `${parent.split(' ')[0]}-child`);
        grew = true;
      }
    }
  }
  const out = new Map<string, number>();
  for (const [pid = 0, , rss = 0] of rows) {
    const name = owner.get(pid);
    if (name) out.set(`${name} ${pid}`, rss);
  }
  return out;
}

/** One row per sample: minutes since the start, queue depths, RSS (MiB) of each process. */
function samplesCsv(samples: { t: number; rss: Map<string, number>; persist: number; stats: number }[], names: string[]): string {
  const header = ['minutes', 'persist_queue', 'stats_queue', ...names.map((name) => `rss_mib:${name}`)].join(',');
  const lines = samples.map((s) =>
    [s.t.toFixed(2), s.persist, s.stats, ...names.map((name) => (s.rss.has(name) ? ((s.rss.get(name) ?? 0) / 1024).toFixed(1) : ''))].join(','),
  );
  return `${[header, ...lines].join('\n')}\n`;
}

function load(url: string, seconds: number, overallRate?: number) {
  return submitLoad(url, { seconds, connections: 20, body: BODY, ...(overallRate ? { overallRate } : {}) });
}

export async function benchSoak(): Promise<BenchResult> {
  const stack = await benchStack('soak', { DEDUP_TTL: '5m', MAX_FILE_AGE: '1m', WORKERS: '2', GATEWAY_PROCESSES: '2' });
  const { env, port, statsPort, topology } = stack;
  const apps: [string, AppProcess][] = [
    ['gateway', startApp('gateway', env)],
    ['workers', startApp('workers', env)],
    ['stats', startApp('stats', env)],
  ];
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createChannel();
  try {
    await waitForHttp(`http://127.0.0.1:${port}/ready`);
    await waitForHttp(`http://127.0.0.1:${statsPort}/ready`);
    const capacity = (await load(`http://127.0.0.1:${port}`, 15))['2xx'] / 15;
    const rate = Math.max(10, Math.floor(capacity / 2));
    // Let the queues drain after the capacity probe before measuring.
    for (let i = 0; i < 60 && (await channel.checkQueue(topology.persistQueue)).messageCount > 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    const roots = new Map(apps.flatMap(([name, app]) => (app.child.pid ? [[app.child.pid, name] as [number, string]] : [])));
    const samples: { t: number; rss: Map<string, number>; persist: number; stats: number }[] = [];
    const started = Date.now();
    const running = load(`http://127.0.0.1:${port}`, SOAK_SECONDS, rate);
    while (Date.now() - started < SOAK_SECONDS * 1000) {
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_SECONDS * 1000));
      samples.push({
        t: (Date.now() - started) / 60_000,
        rss: await rssTree(roots),
        persist: (await channel.checkQueue(topology.persistQueue)).messageCount,
        stats: (await channel.checkQueue(topology.statsQueue)).messageCount,
      });
    }
    const result = await running;
    // Skip the first minute: heaps and caches warm up then.
    const steady = samples.filter((s) => s.t >= 1);
    const names = [...new Set(steady.flatMap((s) => [...s.rss.keys()]))].sort();
    const rows = names.map((name) => {
      const points = steady.filter((s) => s.rss.has(name));
      const ys = points.map((s) => (s.rss.get(name) ?? 0) / 1024);
      const ts = points.map((s) => s.t);
      return { name, first: ys[0] ?? 0, last: ys[ys.length - 1] ?? 0, max: Math.max(...ys), perMinute: theilSenSlope(ts, ys), leastSquares: leastSquaresSlope(ts, ys) };
    });
    const maxSlope = Math.max(...rows.map((r) => r.perMinute));
    await writeFile(SAMPLES_FILE, samplesCsv(samples, names));
    const persistDepths = steady.map((s) => s.persist);
    const queueSlope = leastSquaresSlope(steady.map((s) => s.t), persistDepths);
    const markdown = [
      `Capacity probe: ${capacity.toFixed(0)} req/s (15 s, 20 connections); soak at ${rate} req/s for ${SOAK_SECONDS} s (${result['2xx']} answered 2xx, ${result.non2xx} other, ${result.errors} errors); gateway 2 processes, 2 workers, stats; RSS sampled every ${SAMPLE_SECONDS} s, slopes fitted after the first minute.`,
      '',
      'Flat means a Theil–Sen slope (median of the slopes between every pair of samples) under 0.5 MiB/min for every process: a sample caught during a short peak (a file being compressed) cannot tilt it, a leak tilts every pair. The least-squares slope is shown beside it.',
      '',
      '| process | RSS at 1 min (MiB) | RSS at end (MiB) | max (MiB) | slope, Theil–Sen (MiB/min) | slope, least squares (MiB/min) |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map((r) => `| ${r.name} | ${r.first.toFixed(1)} | ${r.last.toFixed(1)} | ${r.max.toFixed(1)} | ${r.perMinute.toFixed(3)} | ${r.leastSquares.toFixed(3)} |`),
      '',
      `Raw samples: bench/${path.basename(SAMPLES_FILE)} (overwritten by each run).`,
      '',
      `Persist queue depth: max ${Math.max(...persistDepths)}, slope ${queueSlope.toFixed(1)} messages/min; stats queue max ${Math.max(...steady.map((s) => s.stats))}.`,
    ].join('\n');
    return { name: 'Soak: memory and queues at half capacity', markdown, targetMet: maxSlope < 0.5 && queueSlope < 10 };
  } finally {
    await Promise.all(apps.map(([, app]) => app.stop()));
    await connection.close();
    await stack.cleanup();
  }
}
