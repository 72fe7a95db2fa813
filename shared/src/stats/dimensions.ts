/**
 * The dimensions realtime stats count by (SPEC 6): the URL path's fields.
 * Values pass through the schema's allowed values (`OTHER` for the rest,
 * `UNKNOWN` when missing) so counters use the same vocabulary whether they
 * come from the URL (received) or from the converted ping's info (persisted).
 */
import { allowedOrOther, MISSING_VALUE } from '../dimensions/allowed-values.js';
import type { DimensionSchema } from '../dimensions/schema.js';

export const STATS_DIMENSIONS = ['reason', 'appName', 'appVersion', 'appUpdateChannel', 'appBuildID'] as const;
export type StatsDimension = (typeof STATS_DIMENSIONS)[number];
export type StatsValues = Readonly<Record<StatsDimension, string>>;

/** Longer values are cut: a counter field name need not hold a client's essay. */
const MAX_VALUE_LENGTH = 128;

export function isStatsDimension(value: string): value is StatsDimension {
  return (STATS_DIMENSIONS as readonly string[]).includes(value);
}

/** Stats values of a URL path or an info object. */
export function statsValues(schema: DimensionSchema, source: Readonly<Record<string, unknown>> | undefined): StatsValues {
  const out = {} as Record<StatsDimension, string>;
  for (const dimension of STATS_DIMENSIONS) {
    const raw = source?.[dimension];
    let value: string;
    if (raw === undefined || raw === null || raw === '') value = MISSING_VALUE;
    else if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') value = String(raw).slice(0, MAX_VALUE_LENGTH);
    else value = 'OTHER';
    const allowed = schema.dimensions.find((d) => d.field_name === dimension)?.allowed_values;
    out[dimension] = allowed === undefined || value === MISSING_VALUE ? value : allowedOrOther(allowed, value);
  }
  return out;
}
