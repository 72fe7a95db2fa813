/**
 * `npm run bench [-- name...]`: runs the benchmarks and appends their results,
 * with date and machine, to bench/RESULTS.md.
 */
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchCapacity } from './capacity.js';
import { benchConversion } from './conversion.js';
import { benchIngestion } from './ingestion.js';
import { benchMapreduce } from './mapreduce.js';
import { benchSoak } from './soak.js';
import { benchStatsConsumer } from './stats-consumer.js';
import { machineDescription, type BenchResult } from './harness.js';

const BENCHES: Record<string, () => Promise<BenchResult>> = {
  conversion: benchConversion,
  'stats-consumer': benchStatsConsumer,
  ingestion: benchIngestion,
  mapreduce: benchMapreduce,
  capacity: benchCapacity,
  soak: benchSoak,
};

const RESULTS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  // The soak runs for ten minutes: only when asked for by name.
  const names = requested.length > 0 ? requested : Object.keys(BENCHES).filter((name) => name !== 'soak');
  let report = `\n## ${new Date().toISOString()}\nMachine: ${machineDescription()}\n`;
  for (const name of names) {
    const run = BENCHES[name];
    if (!run) continue;
    console.log(`running ${name}...`);
    const result = await run();
    console.log(result.markdown);
    report += `\n### ${result.name} — target ${result.targetMet ? 'met' : 'NOT met'}\n${result.markdown}\n`;
  }
  await appendFile(RESULTS_FILE, report);
  console.log(`results appended to ${path.relative(process.cwd(), RESULTS_FILE)}`);
}

await main();
