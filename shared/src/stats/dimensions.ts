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
 * (persisted). A value taken from the URL is percent-decoded once first (the
 * path is kept as sent: `x%20y` would otherwise be counted, and shown, as
 * such); a value from a ping's body is text already and is never decoded.
 */
import type { UrlDimensions } from '../amqp/wire-codec.js';
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

/** C0 controls and DEL: the counters join their fields with NUL, and a dashboard cannot show them. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/**
 * A URL path segment as readable text: percent-decoded exactly once (`x%20y`
 * is `x y`, `%252e%252e` is `%2e%2e` and stays so: decoding again would make
 * two different paths one value). Kept as sent when it is not valid
 * percent-encoded UTF-8 (`%E0%A4%A`) or decodes to a control character.
 */
export function decodeUrlValue(raw: string): string {
  if (!raw.includes('%')) return raw;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch (error) {
    if (error instanceof URIError) return raw;
    throw error;
  }
  return hasControlCharacter(decoded) ? raw : decoded;
}

/** The first MAX_VALUE_LENGTH code units, one fewer rather than half a surrogate pair (decoded text may have any character). */
function cut(text: string): string {
  if (text.length <= MAX_VALUE_LENGTH) return text;
  const last = text.charCodeAt(MAX_VALUE_LENGTH - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? MAX_VALUE_LENGTH - 1 : MAX_VALUE_LENGTH);
}

function statsText(raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') return MISSING_VALUE;
  if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return cut(String(raw));
  return 'OTHER';
}

/** Stats values of a telemetry submission from its converted ping's info object (text as the client wrote it: not decoded). */
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

/** Stats values of a telemetry submission from its URL path's dimensions, each percent-decoded once. */
export function urlStatsValues(schema: DimensionSchema, dimensions: UrlDimensions | undefined): StatsValues {
  if (!dimensions) return statsValues(schema, undefined);
  const decoded: Record<string, string> = {};
  for (const [field, value] of Object.entries(dimensions)) decoded[field] = decodeUrlValue(value);
  return statsValues(schema, decoded);
}

/**
 * Stats values of a generic-form submission: its URL's namespace and docType
 * (percent-decoded once), and its channel once known (persisted; from the
 * ping's `client_info`, so not decoded).
 */
export function genericStatsValues(form: { readonly namespace: string; readonly docType: string; readonly channel?: string | undefined }): StatsValues {
  const values: Partial<Record<StatsDimension, string>> = { namespace: statsText(decodeUrlValue(form.namespace)), docType: statsText(decodeUrlValue(form.docType)) };
  if (form.channel !== undefined) values.channel = statsText(form.channel);
  return values;
}
