/**
 * The shipped jobs a mapreduce-worker runs on a schedule (BullMQ job
 * schedulers on `<base>-schedule`): the histogram aggregates
 * (MAPREDUCE_HISTOGRAM_CRON) and the dashboard (MAPREDUCE_DASHBOARD_CRON).
 * At each tick one worker runs the job with local processes on its host.
 * Every worker registers at start the schedules its configuration sets and
 * removes the others, so the schedules follow the workers last started.
 */
import type { Queue } from 'bullmq';
import type { Logger } from '@telemetry/shared/logger';
import type { MapreduceConfig } from '../config.js';
import { DashboardBusyError } from '../dashboard/lock.js';
import { runDashboard } from '../dashboard/run.js';
import { runHistogramAggregates } from '../histograms/run.js';
import { KEEP_COMPLETED, KEEP_FAILED } from './options.js';

export const HISTOGRAM_SCHEDULER_ID = 'histogram-aggregates';
export const DASHBOARD_SCHEDULER_ID = 'dashboard';

type Summary = Record<string, unknown>;

interface Schedule {
  readonly id: string;
  cron(config: MapreduceConfig): string | undefined;
  run(config: MapreduceConfig, logger: Logger): Promise<Summary>;
}

const SCHEDULES: readonly Schedule[] = [
  {
    id: HISTOGRAM_SCHEDULER_ID,
    cron: (config) => config.histogram.cron,
    async run(config, logger) {
      const h = config.histogram;
      const result = await runHistogramAggregates({
        dataDir: h.dataDir,
        outDir: h.outDir,
        ...(h.filter === undefined ? {} : { filter: h.filter }),
        schemaFile: h.schemaFile,
        hgServer: h.hgServer,
        revisionCacheDir: h.revisionCacheDir,
        workDir: h.workDir,
        mappers: h.mappers,
      });
      const summary = { entries: result.entries.length, records: result.run.map.records, tornLines: result.run.map.tornLines, missingRevisions: result.missingRevisions };
      logger.info(summary, 'histogram aggregates published');
      return summary;
    },
  },
  {
    id: DASHBOARD_SCHEDULER_ID,
    cron: (config) => config.dashboard.cron,
    async run(config, logger) {
      const { histogram: h, dashboard: d } = config;
      try {
        const result = await runDashboard({
          dataDir: h.dataDir,
          outDir: d.outDir,
          ...(d.filter === undefined ? {} : { filter: d.filter }),
          schemaFile: h.schemaFile,
          hgServer: h.hgServer,
          revisionCacheDir: h.revisionCacheDir,
          workDir: h.workDir,
          mappers: d.mappers,
          maxBadRecords: d.maxBadRecords,
        });
        for (const record of result.run.badRecords) logger.warn({ file: record.file, line: record.line, docId: record.docId, err: record.message }, 'dashboard: bad record skipped');
        const summary = {
          files: result.processedFiles.length,
          records: result.run.map.records,
          folders: Object.keys(result.published?.folders ?? {}),
          missingFiles: result.missingFiles.length,
          missingRevisions: result.published?.missingRevisions ?? {},
        };
        logger.info(summary, 'dashboard published');
        return summary;
      } catch (error) {
        // The previous tick's run is still publishing: this tick has nothing to add.
        if (!(error instanceof DashboardBusyError)) throw error;
        logger.info({ reason: error.message }, 'dashboard run skipped');
        return { skipped: error.message };
      }
    },
  },
];

/** Registers the schedules `config` sets on the schedule queue, removes the others. */
export async function registerSchedules(queue: Queue, config: MapreduceConfig): Promise<Record<string, string>> {
  const registered: Record<string, string> = {};
  for (const schedule of SCHEDULES) {
    const cron = schedule.cron(config);
    if (cron === undefined) {
      await queue.removeJobScheduler(schedule.id);
      continue;
    }
    const opts = { attempts: config.distributed.attempts, backoff: { type: 'exponential', delay: config.distributed.backoffMs }, removeOnComplete: KEEP_COMPLETED, removeOnFail: KEEP_FAILED };
    await queue.upsertJobScheduler(schedule.id, { pattern: cron }, { name: schedule.id, data: {}, opts });
    registered[schedule.id] = cron;
  }
  return registered;
}

/** Runs the scheduled job a schedule-queue job names (its name is its scheduler's id). */
export async function runScheduled(name: string, config: MapreduceConfig, logger: Logger): Promise<Summary> {
  const schedule = SCHEDULES.find((candidate) => candidate.id === name);
  if (schedule === undefined) throw new TypeError(`no scheduled job named "${name}"`);
  return schedule.run(config, logger);
}
