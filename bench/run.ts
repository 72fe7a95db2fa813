/**
 * `npm run bench [-- name...]`: runs the benchmarks and appends their results,
 * with date and machine, to bench/RESULTS.md.
 *
 * Each benchmark module is imported only when it runs, so one that does not
 * load (mid-refactor) does not stop the others; a benchmark that throws is
 * reported on stderr, left out of RESULTS.md, and makes the exit code 1.
 */
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineDescription, type BenchResult } from './harness.js';

const BENCHES: Record<string, () => Promise<BenchResult>> = {
  conversion: async () => (await import('./conversion.js')).benchConversion(),
  'stats-consumer': async () => (await import('./stats-consumer.js')).benchStatsConsumer(),
  'stats-queries': async () => (await import('./stats-queries.js')).benchStatsQueries(),
  'ingest-path': async () => (await import('./ingest-path.js')).benchIngestPath(),
  ingestion: async () => (await import('./ingestion.js')).benchIngestion(),
  mapreduce: async () => (await import('./mapreduce.js')).benchMapreduce(),
  capacity: async () => (await import('./capacity.js')).benchCapacity(),
  soak: async () => (await import('./soak.js')).benchSoak(),
  zstd: async () => (await import('./zstd.js')).benchZstd(),
};

/**
 * Only when asked for by name: the soak runs for ten minutes. (ingestion stays
 * in the default set: ingest-path supersedes its gateway/bare ratio, but not
 * its check that stopping the stats app slows nothing.)
 */
const ON_REQUEST_ONLY = new Set(['soak']);

const RESULTS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  const names = requested.length > 0 ? requested : Object.keys(BENCHES).filter((name) => !ON_REQUEST_ONLY.has(name));
  let report = `\n## ${new Date().toISOString()}\nMachine: ${machineDescription()}\n`;
  let appended = 0;
  const failed: string[] = [];
  for (const name of names) {
    const run = BENCHES[name];
    if (!run) continue;
    console.log(`running ${name}...`);
    try {
      const result = await run();
      console.log(result.markdown);
      report += `\n### ${result.name} — target ${result.targetMet ? 'met' : 'NOT met'}\n${result.markdown}\n`;
      appended += 1;
    } catch (error) {
      console.error(`${name} failed (not appended to RESULTS.md):`, error);
      failed.push(name);
    }
  }
  if (appended > 0) {
    await appendFile(RESULTS_FILE, report);
    console.log(`results appended to ${path.relative(process.cwd(), RESULTS_FILE)}`);
  }
  if (failed.length > 0) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
