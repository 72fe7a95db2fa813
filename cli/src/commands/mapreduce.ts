/**
 * `telemetry mapreduce JOB ...` (SPEC 7, 10), `telemetry mapreduce-worker`
 * (a BullMQ worker for --distributed runs and the schedules),
 * `telemetry mapreduce-histograms` (the shipped histogram job, published as
 * the dashboard's static files) and `telemetry mapreduce-dashboard` (the
 * shipped dashboard job, merged into the telemetry-dashboard layout). See
 * docs/MAPREDUCE.md.
 */
import os from 'node:os';
import type { Command } from 'commander';
import { parseMapreduceConfig } from '@telemetry/mapreduce/config';
import { startMapreduceWorker } from '@telemetry/mapreduce/distributed/worker';
import { InputFilterError, JobModuleError } from '@telemetry/mapreduce/errors';
import { DashboardBusyError } from '@telemetry/mapreduce/dashboard/lock';
import { runDashboard } from '@telemetry/mapreduce/dashboard/run';
import { runHistogramAggregates } from '@telemetry/mapreduce/histograms/run';
import { parseParams } from '@telemetry/mapreduce/job-api';
import { RunAbortedError } from '@telemetry/mapreduce/runner';
import { createRunReporter, summaryLines } from '@telemetry/mapreduce/progress';
import { runMapReduce, type MapReduceResult } from '@telemetry/mapreduce/run';
import { PathOutsideRootsError } from '@telemetry/mapreduce/task-roots';
import { ConfigError } from '@telemetry/shared/config/env';
import { createLogger } from '@telemetry/shared/logger';
import { installShutdown } from '@telemetry/shared/process/shutdown';
import { integerOption } from '../options.js';
import { UsageError } from '../usage-error.js';
import { writeOrWait } from './io.js';

interface MapreduceOptions {
  inputFilter: string;
  dataDir: string;
  workDir: string;
  output: string;
  numMappers?: string;
  numReducers?: string;
  combineThreshold?: string;
  param: string[];
  maxBadRecords?: string;
  distributed?: boolean;
}

interface HistogramOptions {
  dataDir?: string;
  outDir?: string;
  inputFilter?: string;
  workDir?: string;
  numMappers?: string;
  distributed?: boolean;
}

interface DashboardOptions extends HistogramOptions {
  maxBadRecords?: string;
}

/** Exit code of a run interrupted with Ctrl-C (128 + SIGINT). */
const INTERRUPTED_EXIT_CODE = 130;
/** Exit code of a dashboard run that found another one publishing (EX_TEMPFAIL: try again later). */
const BUSY_EXIT_CODE = 75;
const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerMapreduce(program: Command): void {
  program
    .command('mapreduce')
    .description('Run a MapReduce job over stored records; output lines "key<TAB>value"')
    .argument('<job>', 'ES module (.js, .mjs, .ts) exporting map and optionally reduce, combine, setupReduce')
    .requiredOption('--input-filter <file>', 'schema-shaped JSON selecting files by dimension values ("layout": "generic" for Glean pings)')
    .requiredOption('--data-dir <dir>', 'the storage directory (STORAGE_DIR)')
    .requiredOption('--work-dir <dir>', 'intermediate data (shared storage for --distributed); removed at the end')
    .requiredOption('--output <file>', 'the output file')
    .option('--num-mappers <m>', `map processes/tasks (default: ${os.availableParallelism()}, the cores here)`)
    .option('--num-reducers <r>', 'reduce processes/tasks (default 1)')
    .option('--combine-threshold <n>', 'run combine when a key has collected more than n values in a mapper (default 100)')
    .option('--param <name=value>', 'a parameter for the job (ctx.params); repeatable', collect, [])
    .option('--max-bad-records <n>', 'skip and report up to n records whose map throws (default 0: the first fails the run)')
    .option('--distributed', 'run as BullMQ jobs on mapreduce-worker processes (REDIS_URL, MAPREDUCE_QUEUE, BULLMQ_PREFIX)')
    .action(async (job: string, options: MapreduceOptions) => {
      process.exitCode = await runCommand(async (signal) => {
        const config = options.distributed ? parseMapreduceConfig(process.env) : undefined;
        const reporter = createRunReporter(process.stderr);
        try {
          return await runMapReduce({
            job,
            inputFilter: options.inputFilter,
            dataDir: options.dataDir,
            workDir: options.workDir,
            output: options.output,
            mappers: integerOption('--num-mappers', options.numMappers, os.availableParallelism(), 1, 1_000),
            reducers: integerOption('--num-reducers', options.numReducers, 1, 1, 1_000),
            combineThreshold: integerOption('--combine-threshold', options.combineThreshold, config?.combineThreshold ?? 100, 1, 10_000_000),
            params: parseParams(options.param),
            maxBadRecords: integerOption('--max-bad-records', options.maxBadRecords, 0, 0, 1_000_000_000),
            ...(config ? { distributed: config.distributed } : {}),
            onPlan: (plan) => reporter.onPlan(plan),
            onProgress: (progress) => reporter.onProgress(progress),
            signal,
          });
        } finally {
          reporter.stop();
        }
      });
    });

  program
    .command('mapreduce-histograms')
    .description("Run the histogram job and publish the dashboard's static files (index.json + one file per channel/version)")
    .option('--data-dir <dir>', 'the storage directory (default: STORAGE_DIR)')
    .option('--out-dir <dir>', 'where the files go (default: STATS_DATA_DIR, which the stats app serves under /data/)')
    .option('--input-filter <file>', 'schema-shaped JSON selecting files (default: every file)')
    .option('--work-dir <dir>', 'intermediate data (default: MAPREDUCE_WORK_DIR)')
    .option('--num-mappers <m>', 'map processes/tasks (default: MAPREDUCE_HISTOGRAM_MAPPERS, the cores here)')
    .option('--distributed', 'run on mapreduce-worker processes')
    .action(async (options: HistogramOptions) => {
      process.exitCode = await runCommand(async () => {
        const config = parseMapreduceConfig(process.env);
        const h = config.histogram;
        const reporter = createRunReporter(process.stderr);
        let result;
        try {
          result = await runHistogramAggregates({
            dataDir: options.dataDir ?? h.dataDir,
            outDir: options.outDir ?? h.outDir,
            ...(options.inputFilter ?? h.filter ? { filter: options.inputFilter ?? h.filter } : {}),
            schemaFile: h.schemaFile,
            hgServer: h.hgServer,
            revisionCacheDir: h.revisionCacheDir,
            workDir: options.workDir ?? h.workDir,
            mappers: integerOption('--num-mappers', options.numMappers, h.mappers, 1, 1_000),
            ...(options.distributed ? { distributed: config.distributed } : {}),
            onProgress: (progress) => reporter.onProgress(progress),
          });
        } finally {
          reporter.stop();
        }
        const missing = Object.entries(result.missingRevisions);
        for (const [revision, records] of missing) {
          await writeOrWait(process.stderr, `revision not found: ${revision} (${records} record(s): their histograms have no bounds)\n`);
        }
        await writeOrWait(process.stderr, `published ${result.entries.length} entr(ies) to ${options.outDir ?? h.outDir}\n`);
        return result.run;
      });
    });

  registerDashboard(program);
}

function registerDashboard(program: Command): void {
  program
    .command('mapreduce-dashboard')
    .description('Run the dashboard job over the files not processed yet and merge it into the telemetry-dashboard layout (versions.json, one folder per channel/version)')
    .option('--data-dir <dir>', 'the storage directory (default: STORAGE_DIR)')
    .option('--out-dir <dir>', 'the published directory (default: MAPREDUCE_DASHBOARD_DIR, <STATS_DATA_DIR>/dashboard)')
    .option('--input-filter <file>', 'schema-shaped JSON selecting files (default: MAPREDUCE_DASHBOARD_FILTER, every file)')
    .option('--work-dir <dir>', 'intermediate data (default: MAPREDUCE_WORK_DIR)')
    .option('--num-mappers <m>', 'map processes/tasks (default: MAPREDUCE_DASHBOARD_MAPPERS, the cores here)')
    .option('--max-bad-records <n>', 'skip and report up to n records whose map throws (default 0)')
    .option('--distributed', 'run on mapreduce-worker processes')
    .action(async (options: DashboardOptions) => {
      process.exitCode = await runCommand(async () => {
        const config = parseMapreduceConfig(process.env);
        const { histogram: h, dashboard: d } = config;
        const outDir = options.outDir ?? d.outDir;
        const filter = options.inputFilter ?? d.filter;
        const reporter = createRunReporter(process.stderr);
        let result;
        try {
          result = await runDashboard({
            dataDir: options.dataDir ?? h.dataDir,
            outDir,
            ...(filter === undefined ? {} : { filter }),
            schemaFile: h.schemaFile,
            hgServer: h.hgServer,
            revisionCacheDir: h.revisionCacheDir,
            workDir: options.workDir ?? h.workDir,
            mappers: integerOption('--num-mappers', options.numMappers, d.mappers, 1, 1_000),
            maxBadRecords: integerOption('--max-bad-records', options.maxBadRecords, 0, 0, 1_000_000_000),
            ...(options.distributed ? { distributed: config.distributed } : {}),
            onProgress: (progress) => reporter.onProgress(progress),
          });
        } finally {
          reporter.stop();
        }
        for (const [revision, records] of Object.entries(result.published?.missingRevisions ?? {})) {
          await writeOrWait(process.stderr, `revision not found: ${revision} (${records} record(s): their histograms are left out)\n`);
        }
        for (const file of result.missingFiles) await writeOrWait(process.stderr, `missing (unreadable, tried again next run): ${file}\n`);
        const folders = Object.keys(result.published?.folders ?? {});
        const what = folders.length > 0 ? `published ${folders.join(', ')}` : 'nothing new to publish';
        await writeOrWait(process.stderr, `${what} in ${outDir}: ${result.processedFiles.length} file(s) merged, ${result.alreadyProcessed} processed before, ${result.unfinishedFiles} still being written\n`);
        return result.run;
      });
    });
}

export function registerMapreduceWorker(program: Command): void {
  program
    .command('mapreduce-worker')
    .description('A BullMQ worker for --distributed runs and the schedules of the shipped jobs (REDIS_URL, MAPREDUCE_*; see docs/MAPREDUCE.md)')
    .action(async () => {
      const config = parseMapreduceConfig(process.env);
      const logger = createLogger('mapreduce-worker');
      const worker = await startMapreduceWorker(config, logger);
      // The process lives on in its BullMQ workers until SIGTERM/SIGINT.
      installShutdown(logger, () => worker.stop(), { timeoutMs: config.shutdownTimeoutMs });
    });
}

/** Runs a MapReduce command: summary on stderr, exit 0/1, 2 for bad input, 130 on Ctrl-C. */
async function runCommand(run: (signal: AbortSignal) => Promise<MapReduceResult>): Promise<number> {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await run(controller.signal);
    for (const line of summaryLines(result)) await writeOrWait(process.stderr, `${line}\n`);
    return 0;
  } catch (error) {
    // Bad options, filter, job module or environment: exit 2 through main.
    if (error instanceof UsageError || error instanceof ConfigError) throw error;
    if (error instanceof JobModuleError || error instanceof InputFilterError || error instanceof PathOutsideRootsError) throw new UsageError(error.message);
    if (error instanceof DashboardBusyError) {
      await writeOrWait(process.stderr, `telemetry mapreduce-dashboard: ${error.message}\n`);
      return BUSY_EXIT_CODE;
    }
    if (error instanceof RunAbortedError) {
      await writeOrWait(process.stderr, 'telemetry mapreduce: interrupted; intermediate data removed\n');
      return INTERRUPTED_EXIT_CODE;
    }
    const message = error instanceof Error ? error.message : String(error);
    await writeOrWait(process.stderr, `telemetry mapreduce: ${message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
