/**
 * The shipped job (SPEC 7): histogram aggregates per (reason, appName,
 * appUpdateChannel, appVersion). Runnable by hand:
 *   npx telemetry mapreduce apps/mapreduce/src/jobs/histograms.ts --input-filter F \
 *     --data-dir D --work-dir W --output out.txt [--param hgServer=URL --param revisionCacheDir=DIR]
 * and published as the dashboard's static files by runHistogramAggregates.
 *
 * Output keys:
 *   ["group", reason, appName, channel, version] -> {"records", "histograms": {NAME: aggregate}, "excluded": {NAME: n}}
 *   ["missing_revision", url]                   -> records whose revision is unknown (bounds left null)
 *   ["malformed_histogram", NAME]               -> histograms that are not a converted array (skipped)
 *
 * Bounds come from the record's revision (`info.revision` for ver 2,
 * `payload.info.revision` for version 5) through the revision cache. A
 * revision the server does not have is not an error: its histograms are still
 * summed, with unknown bounds, and the revision is reported. A revision server
 * that is down is: the task fails and is retried.
 */
import { MISSING_VALUE } from '@telemetry/shared/dimensions/allowed-values';
import { sanitizeDimensionValue } from '@telemetry/shared/dimensions/sanitize';
import { resolveHistogram } from '@telemetry/shared/conversion/histograms';
import type { CompiledHistogram } from '@telemetry/shared/histograms/types';
import { finishHistogram, mergeGroups, recordEntry, STATISTICS, unknownLayout, type GroupPartial, type HistogramAggregate } from '../histograms/aggregate.js';
import type { Dims } from '../dims.js';
import type { MapContext, WriteContext } from '../job-api.js';
import { definitionsOf } from '../job-revisions.js';

const GROUP_FIELDS = ['reason', 'appName', 'appUpdateChannel', 'appVersion'] as const;

/** Bounds JSON per compiled definition, built once: it is the layout sig of every record. */
const boundsSig = new WeakMap<CompiledHistogram, string>();
function sigOf(definition: CompiledHistogram): string {
  let sig = boundsSig.get(definition);
  if (sig === undefined) {
    sig = JSON.stringify(definition.bounds);
    boundsSig.set(definition, sig);
  }
  return sig;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The parts of a stored record this job needs; undefined parts are simply absent. */
function extract(ping: Record<string, unknown>): { info: Record<string, unknown>; histograms: unknown; revision: unknown } {
  const info = isObject(ping.info) ? ping.info : {};
  if (ping.version === 5) {
    const payload = isObject(ping.payload) ? ping.payload : {};
    const payloadInfo = isObject(payload.info) ? payload.info : {};
    return { info, histograms: payload.histograms, revision: payloadInfo.revision };
  }
  return { info, histograms: ping.histograms, revision: info.revision };
}

function isConverted(value: unknown): value is number[] {
  if (!Array.isArray(value) || value.length <= STATISTICS.length) return false;
  for (let i = 0; i < value.length; i += 1) if (typeof value[i] !== 'number') return false;
  return true;
}

export async function map(_docId: string, dims: Dims, value: string, ctx: MapContext): Promise<void> {
  const ping = JSON.parse(value) as unknown;
  if (!isObject(ping)) throw new TypeError('the record is not a JSON object');
  const { info, histograms, revision } = extract(ping);
  // The path's values when the filter names these dimensions (they are what the data was filed under).
  const group = GROUP_FIELDS.map((field) => dims[field] ?? sanitizeDimensionValue(typeof info[field] === 'string' ? info[field] : MISSING_VALUE));
  const partial: GroupPartial = { r: 1, h: {} };
  if (isObject(histograms)) {
    const definitions = await definitionsOf(revision, ctx.params);
    if (definitions === undefined) ctx.write(['missing_revision', typeof revision === 'string' ? revision : '(none)'], 1);
    for (const name of Object.keys(histograms)) {
      const converted = histograms[name];
      if (!isConverted(converted)) {
        ctx.write(['malformed_histogram', name], 1);
        continue;
      }
      const buckets = converted.length - STATISTICS.length;
      const definition = definitions === undefined ? undefined : resolveHistogram(name, definitions);
      const sig = definition !== undefined && definition.bucketCount === buckets ? sigOf(definition) : unknownLayout(buckets);
      // The parsed array is this call's own: it becomes the entry in place (no copy).
      partial.h[name] = { [sig]: recordEntry(converted) };
    }
  }
  ctx.write(['group', ...group], partial);
}

function isGroupKey(key: unknown): key is ['group', ...string[]] {
  return Array.isArray(key) && key[0] === 'group';
}

export function combine(key: unknown, values: unknown[], ctx: WriteContext): void {
  if (isGroupKey(key)) ctx.write(key, mergeGroups(values as GroupPartial[]));
  else ctx.write(key, (values as number[]).reduce((a, b) => a + b, 0));
}

export interface GroupAggregate {
  records: number;
  histograms: Record<string, HistogramAggregate>;
  /** Records left out of a histogram because their bucket layout differed (see finishHistogram). */
  excluded: Record<string, number>;
}

export function reduce(key: unknown, values: unknown[], ctx: WriteContext): void {
  if (!isGroupKey(key)) {
    ctx.write(key, (values as number[]).reduce((a, b) => a + b, 0));
    return;
  }
  const merged = mergeGroups(values as GroupPartial[]);
  const result: GroupAggregate = { records: merged.r, histograms: {}, excluded: {} };
  for (const name of Object.keys(merged.h).sort()) {
    const finished = finishHistogram(merged.h[name] ?? {});
    if (finished === undefined) continue;
    result.histograms[name] = finished.aggregate;
    if (finished.excluded > 0) result.excluded[name] = finished.excluded;
  }
  ctx.write(key, result);
}
