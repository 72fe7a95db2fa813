/**
 * The stats API's largest allowed queries over a full retention (issue 15
 * target: with 48 h × 1,000 values per minute seeded, p99 of the largest
 * allowed query ≤ 200 ms and the stats process's RSS grows ≤ 50 MB).
 *
 * Seeding: the two free dimensions of the default schema (appVersion,
 * appBuildID) get the same 1,000 values every minute of the last 48 h,
 * received and persisted (the worst case for reads: every bucket holds the
 * cap). Minutes older than the detail retention are written once per hour
 * with the hour's sums: their minute and 10-minute buckets would be expired at
 * once anyway, so Redis ends in the state a real 48 h leaves.
 *
 * The stats app runs as `npm run stats` does (its primary and one stats
 * process); its RSS is sampled every 20 ms. Queries: the 48 h dimension query
 * with top=1000 (the largest allowed), a 6 h per-minute time series and a
 * 48 h summary, sequentially and six at once with distinct parameters (no
 * sharing of identical queries). Baseline, same run: the raw Redis reads the
 * 48 h query needs (HGETALL of its 49 hour hashes) from this process.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { HOUR, minuteIndex } from '@telemetry/shared/stats/buckets';
import { RedisCounterStore, type CountEntry } from '@telemetry/shared/stats/counter-store';
import { median, type BenchResult } from './harness.js';
import { benchStack, startApp, waitForHttp } from './stack.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const RETENTION_MS = 48 * HOUR_MS;
const DETAIL_MS = 6 * HOUR_MS;
const VALUES = 1_000;
const P99_TARGET_MS = 200;
const RSS_TARGET_MB = 50;
const SEQUENTIAL = Number(process.env.BENCH_STATS_QUERIES ?? 100);

const versions = Array.from({ length: VALUES }, (_, i) => `${20 + Math.floor(i / 100)}.${i % 100}.${i}a1`);
const builds = Array.from({ length: VALUES }, (_, i) => `2013${String(i).padStart(10, '0')}`);

async function seed(store: RedisCounterStore, nowMs: number): Promise<void> {
  const entriesAt = (atMs: number, count: number): CountEntry[] =>
    versions.flatMap((version, i) => {
      const values = { reason: 'saved-session', appName: 'Firefox', appVersion: version, appUpdateChannel: 'release', appBuildID: builds[i] as string };
      return [
        { atMs, kind: 'received' as const, values, count, bytes: 4_000 * count },
        { atMs, kind: 'persisted' as const, values, count },
      ];
    });
  const firstMinute = minuteIndex(nowMs - RETENTION_MS);
  // Hours wholly older than the detail retention: one record per hour with its minutes' sums (only its hour bucket survives).
  const perMinuteFrom = Math.floor((minuteIndex(nowMs - DETAIL_MS) - 10) / 60) * 60;
  for (let minute = Math.floor(firstMinute / 60) * 60; minute < perMinuteFrom; minute += 60) await store.record(entriesAt(minute * MINUTE_MS, 60));
  for (let minute = perMinuteFrom; minute <= minuteIndex(nowMs); minute += 1) await store.record(entriesAt(minute * MINUTE_MS, 1));
}

/** RSS of `pid`'s children (the stats process under its primary), in bytes. */
function childRss(pid: number): number {
  const children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  let total = 0;
  for (const child of children) {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child}/status`, 'utf8'));
    total += Number(match?.[1] ?? 0) * 1024;
  }
  return total;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function timed(url: string): Promise<number> {
  const start = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
  return performance.now() - start;
}

interface Row {
  query: string;
  p50: number;
  p99: number;
}

interface Measured {
  rows: Row[];
  rssIdleMB: number;
  rssGrowthMB: number;
}

/** Runs the stats app (STATS_QUERY_CACHE_VALUES as given, else its default) and the query series against it. */
async function measureApp(stack: Awaited<ReturnType<typeof benchStack>>, cacheValues: string | undefined): Promise<Measured> {
  const env: Record<string, string> = { ...stack.env, STATS_RETENTION: '48h', STATS_DETAIL_RETENTION: '6h', STATS_MAX_VALUES: String(VALUES) };
  if (cacheValues !== undefined) env.STATS_QUERY_CACHE_VALUES = cacheValues;
  const app = startApp('stats', env);
  const base = `http://127.0.0.1:${stack.statsPort}`;
  const rows: Row[] = [];
  try {
    await waitForHttp(`${base}/status`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const pid = app.child.pid ?? 0;
    const rssIdle = childRss(pid);
    let rssMax = rssIdle;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, childRss(pid))), 20);
    const largest = (w: string) => `${base}/api/stats/dimensions/appVersion?window=${w}&top=1000`;
    for (let i = 0; i < 3; i += 1) await timed(largest('48h'));
    const run = async (label: string, urls: () => string[], rounds: number) => {
      const times: number[] = [];
      for (let r = 0; r < rounds; r += 1) times.push(...(await Promise.all(urls().map((url) => timed(url)))));
      rows.push({ query: label, p50: median(times), p99: percentile(times, 99) });
    };
    await run('dimensions/appVersion?window=48h&top=1000, one at a time', () => [largest('48h')], SEQUENTIAL);
    // Six at once, windows starting at six different hours: no two share one run.
    await run('the same, six at once (windows 43h..48h)', () => ['43h', '44h', '45h', '46h', '47h', '48h'].map(largest), Math.ceil(SEQUENTIAL / 6));
    await run('dimensions/appBuildID?window=6h&top=1000 (exact, minute edges)', () => [`${base}/api/stats/dimensions/appBuildID?window=6h&top=1000`], SEQUENTIAL / 2);
    await run('timeseries appVersion, window=6h&step=1m (360 points)', () => [`${base}/api/stats/timeseries?dimension=appVersion&value=${versions[7] ?? ''}&window=6h&step=1m`], SEQUENTIAL / 2);
    await run('summary?window=48h', () => [`${base}/api/stats/summary?window=48h`], SEQUENTIAL / 2);
    clearInterval(sampler);
    return { rows, rssIdleMB: rssIdle / 1e6, rssGrowthMB: (rssMax - rssIdle) / 1e6 };
  } finally {
    await app.stop();
  }
}

export async function benchStatsQueries(): Promise<BenchResult> {
  const redis = new Redis(REDIS_URL);
  const stack = await benchStack('stats-queries');
  const prefix = stack.env.STATS_PREFIX ?? 'bench-stats';
  const options = { prefix, retentionMs: RETENTION_MS, detailRetentionMs: DETAIL_MS, maxValuesPerHour: VALUES };
  const store = new RedisCounterStore(redis, options);
  const nowMs = Date.now();
  const seedStart = performance.now();
  await seed(store, nowMs);
  const seedSeconds = (performance.now() - seedStart) / 1000;
  const redisMiB = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 2 ** 20;

  // Baseline: the 48 h query's raw reads, from this process.
  const hourKeys = Array.from({ length: 49 }, (_, i) => `${prefix}:${HOUR.name}:${Math.floor(nowMs / HOUR_MS) - 48 + i}:c:appVersion`);
  const rawTimes: number[] = [];
  for (let i = 0; i < 20; i += 1) {
    const start = performance.now();
    await Promise.all(hourKeys.map((key) => redis.hgetall(key)));
    rawTimes.push(performance.now() - start);
  }

  const measured: Measured[] = [];
  try {
    // Without the closed-bucket cache first (every query reads and parses every bucket), then as configured by default.
    for (const cacheValues of ['0', undefined]) measured.push(await measureApp(stack, cacheValues));
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 1_000) await redis.del(...keys.slice(i, i + 1_000));
    redis.disconnect();
    await stack.cleanup();
  }
  const [cold, warm] = measured as [Measured, Measured];
  const largestP99 = Math.max(warm.rows[0]?.p99 ?? Infinity, warm.rows[1]?.p99 ?? Infinity);
  const growthMB = warm.rssGrowthMB;
  const rawMedian = median(rawTimes);
  const table = warm.rows
    .map((r, i) => `| ${r.query} | ${cold.rows[i]?.p50.toFixed(1) ?? '–'} | ${cold.rows[i]?.p99.toFixed(1) ?? '–'} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`)
    .join('\n');
  return {
    name: 'stats-queries',
    targetMet: largestP99 <= P99_TARGET_MS && growthMB <= RSS_TARGET_MB,
    markdown: [
      `Seeded in ${seedSeconds.toFixed(0)} s: ${VALUES} values of appVersion and of appBuildID every minute of 48 h, received and persisted (every bucket at the cap); Redis then held ${redisMiB.toFixed(0)} MiB. The stats app as \`npm run stats\` runs it, fetched sequentially or six at once (distinct windows, so no two share a run) from this process; first with \`STATS_QUERY_CACHE_VALUES=0\` (every query reads and parses every bucket), then with the default closed-bucket cache.`,
      '',
      '| query | no cache p50 ms | no cache p99 ms | default p50 ms | default p99 ms |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| baseline: the 48 h query's raw Redis reads (HGETALL of the 49 hour hashes, ~3,000 fields each) from the bench process | ${rawMedian.toFixed(1)} | ${percentile(rawTimes, 99).toFixed(1)} | | |`,
      table,
      '',
      `Largest allowed query (48 h, top=1000), default configuration: p99 **${largestP99.toFixed(1)} ms** (target ≤ ${P99_TARGET_MS}); without the cache ${Math.max(cold.rows[0]?.p99 ?? NaN, cold.rows[1]?.p99 ?? NaN).toFixed(1)} ms. Sequential p50 against the raw reads of the hourly hashes: ${((warm.rows[0]?.p50 ?? NaN) / rawMedian).toFixed(2)}× (cache), ${((cold.rows[0]?.p50 ?? NaN) / rawMedian).toFixed(2)}× (no cache). Stats process RSS growth under the query load: **${growthMB.toFixed(1)} MB** (target ≤ ${RSS_TARGET_MB}; idle ${warm.rssIdleMB.toFixed(0)} MB); without the cache ${cold.rssGrowthMB.toFixed(1)} MB.`,
    ].join('\n'),
  };
}
