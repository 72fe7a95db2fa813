import type { HistogramDefinitions } from '../histograms/types.js';

// Measured on Node 24 (shared/test/support/measure-definitions-heap.ts, V8
// heap plus array buffers after GC, 30 copies each): 619 B per histogram and
// 53 B per bucket fit real 2013 files and synthetic ones of 3 to 200 buckets
// per histogram. Rounded up so the estimate errs towards less in memory.
const BYTES_PER_HISTOGRAM = 640;
const BYTES_PER_BUCKET = 56;

/**
 * Heap a compiled revision holds, estimated from its histograms and buckets
 * (the bucket maps and bound arrays dominate): the memory cache is bounded in
 * bytes because one revision's cost varies tenfold with its file (3–4 MiB for
 * a 2013 Histograms.json, far more for later, larger ones).
 */
export function estimateDefinitionsBytes(definitions: HistogramDefinitions): number {
  let buckets = 0;
  for (const name of definitions.names()) buckets += definitions.get(name)?.bucketCount ?? 0;
  return definitions.size * BYTES_PER_HISTOGRAM + buckets * BYTES_PER_BUCKET;
}
