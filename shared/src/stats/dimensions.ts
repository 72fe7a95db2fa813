/**
 * The dimensions realtime stats count by (SPEC 6):
 * - the telemetry form's URL fields (reason, appName, appVersion,
 *   appUpdateChannel, appBuildID), counted for telemetry submissions only;
 * - `namespace`, `docType` and `channel`, counted for every submission of
 *   either form: a telemetry submission is namespace `telemetry`, its reason
 *   the docType and its appUpdateChannel the channel (the edge
 *   specification's reading of the telemetry URL); a generic one (Glean) has
 *   them from its URL, and its channel from the ping's
 *   `client_info.app_channel`, which only the workers read: its channel is
 *   counted once persisted, not when received.
 * Telemetry values pass through the schema's allowed values (`OTHER` for the
 * rest, `UNKNOWN` when missing) so counters use the same vocabulary whether
 * they come from the URL (received) or from the converted ping's info
 * (persisted).
 */
import { allowedOrOther, MISSING_VALUE } from '../dimensions/allowed-values.js';
import type { DimensionSchema } from '../dimensions/schema.js';
import { TELEMETRY_NAMESPACE } from '../generic-form.js';

const TELEMETRY_STATS_DIMENSIONS = ['reason', 'appName', 'appVersion', 'appUpdateChannel', 'appBuildID'] as const;
export const STATS_DIMENSIONS = [...TELEMETRY_STATS_DIMENSIONS, 'namespace', 'docType', 'channel'] as const;
export type StatsDimension = (typeof STATS_DIMENSIONS)[number];
/** A dimension left out is not counted for that entry (e.g. `appName` of a Glean ping). */
export type StatsValues = Readonly<Partial<Record<StatsDimension, string>>>;

/** Longer values are cut: a counter field name need not hold a client's essay. */
const MAX_VALUE_LENGTH = 128;

function statsText(raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') return MISSING_VALUE;
  if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return String(raw).slice(0, MAX_VALUE_LENGTH);
  return 'OTHER';
}

/** Stats values of a telemetry submission, from its URL path or its converted info object. */
export function statsValues(schema: DimensionSchema, source: Readonly<Record<string, unknown>> | undefined): StatsValues {
  const out = {} as Record<StatsDimension, string>;
  for (const dimension of TELEMETRY_STATS_DIMENSIONS) {
    const value = statsText(source?.[dimension]);
    const allowed = schema.dimensions.find((d) => d.field_name === dimension)?.allowed_values;
    out[dimension] = allowed === undefined || value === MISSING_VALUE ? value : allowedOrOther(allowed, value);
  }
  out.namespace = TELEMETRY_NAMESPACE;
  out.docType = out.reason;
  out.channel = out.appUpdateChannel;
  return out;
}

/** Stats values of a generic-form submission: its URL's namespace and docType, and its channel once known (persisted). */
export function genericStatsValues(form: { readonly namespace: string; readonly docType: string; readonly channel?: string | undefined }): StatsValues {
  const values: Partial<Record<StatsDimension, string>> = { namespace: statsText(form.namespace), docType: statsText(form.docType) };
  if (form.channel !== undefined) values.channel = statsText(form.channel);
  return values;
}
