/**
 * The shipped dashboard job (SPEC 7): the data of Mozilla's telemetry
 * dashboard (telemetry-aggregator's layout), per channel and major version,
 * each measure by build date and by submission date under its filter path
 * (reason, appName, OS, osVersion, arch). Runnable by hand:
 *   npx telemetry mapreduce apps/mapreduce/src/jobs/dashboard.ts --input-filter F \
 *     --data-dir D --work-dir W --output out.txt [--param hgServer=URL --param revisionCacheDir=DIR]
 * and published (merged into the folders) by runDashboard.
 *
 * Output keys:
 *   ["measure", channel, majorVersion, MEASURE] -> MeasureResult (dashboard/aggregate.ts)
 *   ["records", channel, majorVersion]          -> records
 *   ["missing_revision", url]                   -> records whose histograms were left out (revision unknown)
 *   ["malformed_histogram", NAME]               -> histograms not in their revision's layout (left out)
 *   ["skipped", reason]                         -> records left out (invalid_build_date)
 *
 * The measures of a record: every histogram its own revision defines
 * (`STARTUP_` names taking the unprefixed definition), and its simple
 * measures. A revision the server does not have leaves the record's
 * histograms out (reported); a server that is down fails the task (retried).
 */
import { resolveHistogram } from '@telemetry/shared/conversion/histograms';
import { finishMeasure, mergeMeasures, pathKey, type MeasurePartial, type Values } from '../dashboard/aggregate.js';
import { dashboardRecord, isMeasureName, isObject, simpleMeasures, SIMPLE_MEASURES_REVISION } from '../dashboard/record.js';
import type { Dims } from '../dims.js';
import type { MapContext, WriteContext } from '../job-api.js';
import { definitionsOf } from '../job-revisions.js';

const STATISTICS = 5;

function isConverted(value: unknown, length: number): value is number[] {
  if (!Array.isArray(value) || value.length !== length) return false;
  for (let i = 0; i < value.length; i += 1) if (typeof value[i] !== 'number') return false;
  return true;
}

export async function map(_docId: string, dims: Dims, value: string, ctx: MapContext): Promise<void> {
  const ping = JSON.parse(value) as unknown;
  if (!isObject(ping)) throw new TypeError('the record is not a JSON object');
  const record = dashboardRecord(ping, dims);
  if (typeof record === 'string') {
    ctx.write(['skipped', record], 1);
    return;
  }
  const { channel, majorVersion, buildId } = record;
  ctx.write(['records', channel, majorVersion], 1);
  const byBuild = pathKey(record.buildDate, record.filter);
  const bySubmission = record.submissionDate === undefined ? undefined : pathKey(record.submissionDate, record.filter);
  const emit = (measure: string, values: Values, revision: string): void => {
    const partial: MeasurePartial = {
      [values.length]: { b: buildId, r: revision, d: { [byBuild]: values }, s: bySubmission === undefined ? {} : { [bySubmission]: values } },
    };
    ctx.write(['measure', channel, majorVersion, measure], partial);
  };

  const { histograms, revision } = record;
  if (isObject(histograms) && Object.keys(histograms).length > 0) {
    const definitions = await definitionsOf(revision, ctx.params);
    if (definitions === undefined || typeof revision !== 'string') {
      ctx.write(['missing_revision', typeof revision === 'string' ? revision : '(none)'], 1);
    } else {
      for (const name of Object.keys(histograms)) {
        const definition = resolveHistogram(name, definitions);
        if (definition === undefined || !isMeasureName(name)) continue;
        const converted = histograms[name];
        if (!isConverted(converted, definition.bucketCount + STATISTICS)) {
          ctx.write(['malformed_histogram', name], 1);
          continue;
        }
        // The parsed array is this call's own: it becomes the values in place.
        converted.push(1);
        emit(name, converted, revision);
      }
    }
  }
  for (const [name, values] of simpleMeasures(record.simpleMeasurements)) {
    if (isMeasureName(name)) emit(name, values, SIMPLE_MEASURES_REVISION);
  }
}

function isMeasureKey(key: unknown): key is ['measure', string, string, string] {
  return Array.isArray(key) && key[0] === 'measure';
}

export function combine(key: unknown, values: unknown[], ctx: WriteContext): void {
  if (isMeasureKey(key)) ctx.write(key, mergeMeasures(values as MeasurePartial[]));
  else ctx.write(key, (values as number[]).reduce((a, b) => a + b, 0));
}

export function reduce(key: unknown, values: unknown[], ctx: WriteContext): void {
  if (!isMeasureKey(key)) {
    ctx.write(key, (values as number[]).reduce((a, b) => a + b, 0));
    return;
  }
  const result = finishMeasure(mergeMeasures(values as MeasurePartial[]));
  if (result !== undefined) ctx.write(key, result);
}
