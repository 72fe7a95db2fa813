/**
 * histograms.json of a published folder: each measure's definition from the
 * revision of the newest build seen, as written in that revision's
 * Histograms.json (description and every other field) but with every number
 * evaluated: the dashboard's client recomputes the bucket bounds from `low`,
 * `high`, `n_buckets` and `n_values` with parseFloat/parseInt, so `"10 * 1000"`
 * or a C++ constant would break it. For linear and exponential histograms
 * `low` is the low the buckets really start from: Firefox raises a low below
 * 1 (or none) to 1, as conversion does.
 */
import { evaluateDefinitionNumber } from '@telemetry/shared/histograms/expression';
import type { RevisionCache } from '@telemetry/shared/revisions/revision-cache';
import { isObject, SIMPLE_MEASURE_SHAPE, SIMPLE_MEASURES_PREFIX, SIMPLE_MEASURES_REVISION } from './record.js';

const NUMBER_FIELDS = ['low', 'high', 'n_buckets', 'n_values'] as const;
const STARTUP_PREFIX = 'STARTUP_';

export type PublishedDefinition = Record<string, unknown>;

/** A simple measure's definition (telemetry-aggregator's). */
function simpleMeasureDefinition(measure: string): PublishedDefinition {
  return { ...SIMPLE_MEASURE_SHAPE, extended_statistics_ok: true, description: `Histogram aggregation for simple measure: ${measure.slice(SIMPLE_MEASURES_PREFIX.length)}` };
}

function evaluated(measure: string, raw: Record<string, unknown>): PublishedDefinition {
  const definition: PublishedDefinition = { ...raw };
  for (const field of NUMBER_FIELDS) {
    if (Object.hasOwn(raw, field)) definition[field] = evaluateDefinitionNumber(raw[field], field, measure);
  }
  if (definition.kind === 'linear' || definition.kind === 'exponential') definition.low = Math.max(typeof definition.low === 'number' ? definition.low : 1, 1);
  return definition;
}

/** Definitions by (measure, revision), each revision's file read once. */
export class DefinitionSource {
  private readonly files = new Map<string, Promise<Record<string, unknown>>>();

  constructor(private readonly revisions: RevisionCache) {}

  async definition(measure: string, revision: string): Promise<PublishedDefinition> {
    if (revision === SIMPLE_MEASURES_REVISION) return simpleMeasureDefinition(measure);
    let file = this.files.get(revision);
    if (file === undefined) {
      file = this.revisions.getSource(revision).then((json) => {
        if (!isObject(json)) throw new TypeError(`${revision}: Histograms.json is not an object`);
        // The `{"histograms": {…}}` wrapper some tools write, as the revision cache accepts it.
        const keys = Object.keys(json);
        return keys.length === 1 && isObject(json.histograms) && !Object.hasOwn(json.histograms, 'kind') ? json.histograms : json;
      });
      this.files.set(revision, file);
    }
    const table = await file;
    const raw = table[measure] ?? (measure.startsWith(STARTUP_PREFIX) ? table[measure.slice(STARTUP_PREFIX.length)] : undefined);
    if (!isObject(raw)) throw new TypeError(`${revision} does not define ${measure}`);
    return evaluated(measure, raw);
  }
}
