/**
 * The counter store's variables, read alike by every app that writes or reads
 * the realtime counters (stats, workers): they must agree, since writers set
 * each key's expiry and the reader chooses its buckets from the same
 * retentions.
 */
import { z } from 'zod';
import { ConfigError } from '../config/env.js';
import { durationMsField, integerField } from '../config/units.js';
import type { CounterStoreOptions } from './counter-store.js';

export const counterStoreEnvShape = {
  STATS_PREFIX: z.string().min(1).default('telemetry:stats'),
  /** Totals, and counts by value per hour, are kept this long. */
  STATS_RETENTION: durationMsField('48h'),
  /** Counts by value per minute and per 10 minutes are kept this long (at most STATS_RETENTION). */
  STATS_DETAIL_RETENTION: durationMsField('6h'),
  /** Distinct values counted per dimension and hour; the rest count as OTHER. */
  STATS_MAX_VALUES: integerField(1_000),
};

interface CounterStoreEnv {
  readonly STATS_PREFIX: string;
  readonly STATS_RETENTION: number;
  readonly STATS_DETAIL_RETENTION: number;
  readonly STATS_MAX_VALUES: number;
}

export function counterStoreFromEnv(env: CounterStoreEnv): CounterStoreOptions {
  if (env.STATS_DETAIL_RETENTION > env.STATS_RETENTION) {
    throw new ConfigError([{ variable: 'STATS_DETAIL_RETENTION', message: `must not be longer than STATS_RETENTION (${env.STATS_RETENTION / 1000}s)` }]);
  }
  return {
    prefix: env.STATS_PREFIX,
    retentionMs: env.STATS_RETENTION,
    detailRetentionMs: env.STATS_DETAIL_RETENTION,
    maxValuesPerHour: env.STATS_MAX_VALUES,
  };
}
