/**
 * The dashboard job end to end, incrementally: take the published
 * directory's lock, read what it holds (FILES_PROCESSED), run the job over
 * the input files not processed yet, merge its output into new folders and
 * commit (state.ts). Used by the schedule (mapreduce-worker), by
 * `npx telemetry mapreduce-dashboard`, and by tests.
 */
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { RevisionCache } from '@telemetry/shared/revisions/revision-cache';
import type { DistributedOptions } from '../distributed/options.js';
import { allowAllFilter, loadTelemetryFilter, type InputFilter } from '../input-filter.js';
import { newRunId } from '../run-dir.js';
import { runMapReduce, type MapReduceResult, type RunProgress } from '../run.js';
import { DefinitionSource } from './definitions.js';
import { acquireDashboardLock } from './lock.js';
import { publishDashboard, type DashboardPublishSummary } from './publish.js';
import { fileIdentity, isUnfinished, readPublishedState } from './state.js';

export const DASHBOARD_JOB = fileURLToPath(new URL('../jobs/dashboard.ts', import.meta.url));

export interface DashboardOptions {
  readonly dataDir: string;
  /** The published directory (created when missing). */
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
  readonly maxBadRecords?: number;
  readonly distributed?: DistributedOptions;
  readonly onProgress?: (progress: RunProgress) => void;
  /** The folders' stamp (default: now). */
  readonly now?: Date;
}

export interface DashboardResult {
  /** Undefined when there was nothing new to read (nothing published). */
  readonly published: DashboardPublishSummary | undefined;
  readonly run: MapReduceResult;
  /** Files merged in by this run. */
  readonly processedFiles: readonly string[];
  /** Files left out because an earlier run merged them in. */
  readonly alreadyProcessed: number;
  /** Files still being written (read once rotated). */
  readonly unfinishedFiles: number;
  /** FILES_MISSING after this run. */
  readonly missingFiles: readonly string[];
}

async function filterFor(options: DashboardOptions): Promise<InputFilter> {
  if (options.filter !== undefined) return loadTelemetryFilter(options.filter, 'dashboard');
  return allowAllFilter(await loadDimensionSchema(options.schemaFile ?? DEFAULT_SCHEMA_FILE));
}

export async function runDashboard(options: DashboardOptions): Promise<DashboardResult> {
  const outDir = path.resolve(options.outDir);
  const workDir = path.resolve(options.workDir ?? os.tmpdir());
  await mkdir(outDir, { recursive: true });
  await mkdir(workDir, { recursive: true });
  const inputFilter = await filterFor(options);
  const lock = await acquireDashboardLock(outDir);
  const output = path.join(workDir, `${newRunId()}.dashboard.txt`);
  try {
    const state = await readPublishedState(outDir);
    const processed = new Set(state.processed.map(fileIdentity));
    let alreadyProcessed = 0;
    let unfinishedFiles = 0;
    const revisionCacheDir = path.resolve(options.revisionCacheDir);
    const run = await runMapReduce({
      job: DASHBOARD_JOB,
      inputFilter,
      dataDir: options.dataDir,
      workDir,
      output,
      mappers: options.mappers ?? os.availableParallelism(),
      reducers: options.reducers ?? 1,
      maxBadRecords: options.maxBadRecords ?? 0,
      skipUnreadableFiles: true,
      exclude: (file) => {
        if (processed.has(fileIdentity(file.path))) alreadyProcessed += 1;
        else if (isUnfinished(file.path)) unfinishedFiles += 1;
        else return false;
        return true;
      },
      // The revision cache is shared by every mapper; paths absolute so any process (or host) finds them.
      params: { hgServer: options.hgServer, revisionCacheDir },
      ...(options.distributed ? { distributed: options.distributed } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const unreadable = new Set(run.unreadableFiles);
    const processedFiles = run.inputFiles.filter((file) => !unreadable.has(file));
    const merged = new Set(processedFiles.map(fileIdentity));
    const missingFiles = [...new Set([...state.missing.filter((file) => !merged.has(fileIdentity(file))), ...run.unreadableFiles])].sort();
    const base = { processedFiles, alreadyProcessed, unfinishedFiles, missingFiles };
    if (run.inputFiles.length === 0) return { ...base, published: undefined, run };
    const published = await publishDashboard(output, outDir, {
      previous: state,
      processed: [...state.processed, ...processedFiles].sort(),
      missing: missingFiles,
      definitions: new DefinitionSource(new RevisionCache({ hgServer: options.hgServer, cacheDir: revisionCacheDir })),
      now: options.now ?? new Date(),
    });
    return { ...base, published, run };
  } finally {
    await rm(output, { force: true });
    await lock.release();
  }
}
