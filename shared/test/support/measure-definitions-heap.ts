/**
 * Run by definitions-size.test.ts (and by hand, to measure again:
 * `node --expose-gc --import tsx shared/test/support/measure-definitions-heap.ts`):
 * the heap (plus array buffers) one compiled revision holds, after GC, as the
 * mean over COPIES compilations kept alive at once, for the real 2013 fixtures
 * and synthetic files of few and many buckets per histogram. Prints JSON lines
 * { label, bytes, histograms, buckets, measuredBytes, estimatedBytes }.
 */
import { readFileSync } from 'node:fs';
import { parseHistogramDefinitions } from '../../src/histograms/definitions.js';
import type { HistogramDefinitions } from '../../src/histograms/types.js';
import { estimateDefinitionsBytes } from '../../src/revisions/definitions-size.js';
import { FIXTURE_REVISIONS, histogramsJsonPath } from './fixture-revisions.js';

const COPIES = 12;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function synthetic(kind: 'exponential' | 'enumerated', buckets: number): string {
  const table: Record<string, unknown> = {};
  for (let i = 0; i < 1_000; i++) {
    table[`SYNTHETIC_HISTOGRAM_${i}`] =
      kind === 'exponential' ? { kind, low: 1, high: 1_000_000, n_buckets: buckets, description: 'x' } : { kind, n_values: buckets, description: 'x' };
  }
  return JSON.stringify(table);
}

function measure(label: string, text: string): void {
  const definitions = parseHistogramDefinitions(text);
  const kept: HistogramDefinitions[] = [];
  gc?.();
  gc?.();
  const before = process.memoryUsage();
  for (let i = 0; i < COPIES; i++) kept.push(parseHistogramDefinitions(text));
  gc?.();
  gc?.();
  const after = process.memoryUsage();
  let buckets = 0;
  for (const name of definitions.names()) buckets += definitions.get(name)?.bucketCount ?? 0;
  const measuredBytes = Math.round((after.heapUsed - before.heapUsed + after.arrayBuffers - before.arrayBuffers) / kept.length);
  const line = { label, bytes: Buffer.byteLength(text), histograms: definitions.size, buckets, measuredBytes, estimatedBytes: estimateDefinitionsBytes(definitions) };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

for (const { repo, revision } of FIXTURE_REVISIONS) measure(`${repo}/${revision}`, readFileSync(histogramsJsonPath(repo, revision), 'utf8'));
for (const buckets of [3, 10, 50, 200]) {
  measure(`synthetic exponential ×${buckets}`, synthetic('exponential', buckets));
  measure(`synthetic enumerated ×${buckets}`, synthetic('enumerated', buckets));
}
