/**
 * The histogram job end to end: run it over the storage, publish its output
 * as the dashboard's static files. Used by the schedule (mapreduce-worker),
 * by `npx telemetry mapreduce-histograms`, and by tests.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdir, rm } from 'node:fs/promises';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import type { DistributedOptions } from '../distributed/options.js';
import { allowAllFilter, loadTelemetryFilter, type InputFilter } from '../input-filter.js';
import { newRunId } from '../run-dir.js';
import { runMapReduce, type MapReduceResult, type RunProgress } from '../run.js';
import { publishHistogramOutput, type PublishSummary } from './publish.js';

export const HISTOGRAM_JOB = fileURLToPath(new URL('../jobs/histograms.ts', import.meta.url));

export interface HistogramAggregatesOptions {
  readonly dataDir: string;
  readonly outDir: string;
  /** Input filter file or parsed JSON; default: every file, dimensions named by `schemaFile`. */
  readonly filter?: string | Record<string, unknown>;
  readonly schemaFile?: string;
  readonly hgServer: string;
  readonly revisionCacheDir: string;
  /** Intermediate data (default: the system temp dir). */
  readonly workDir?: string;
  readonly mappers?: number;
  readonly reducers?: number;
  readonly distributed?: DistributedOptions;
  readonly onProgress?: (progress: RunProgress) => void;
}

export interface HistogramAggregatesResult extends PublishSummary {
  readonly run: MapReduceResult;
}

async function filterFor(options: HistogramAggregatesOptions): Promise<InputFilter> {
  if (options.filter !== undefined) return loadTelemetryFilter(options.filter, 'histogram');
  return allowAllFilter(await loadDimensionSchema(options.schemaFile ?? DEFAULT_SCHEMA_FILE));
}

export async function runHistogramAggregates(options: HistogramAggregatesOptions): Promise<HistogramAggregatesResult> {
  const workDir = path.resolve(options.workDir ?? os.tmpdir());
  await mkdir(workDir, { recursive: true });
  const output = path.join(workDir, `${newRunId()}.histograms.txt`);
  try {
    const run = await runMapReduce({
      job: HISTOGRAM_JOB,
      inputFilter: await filterFor(options),
      dataDir: options.dataDir,
      workDir,
      output,
      mappers: options.mappers ?? os.availableParallelism(),
      reducers: options.reducers ?? 1,
      // The revision cache is shared by every mapper; paths absolute so any process (or host) finds them.
      params: { hgServer: options.hgServer, revisionCacheDir: path.resolve(options.revisionCacheDir) },
      ...(options.distributed ? { distributed: options.distributed } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const published = await publishHistogramOutput(output, options.outDir);
    return { ...published, run };
  } finally {
    await rm(output, { force: true });
  }
}
