import { DefinitionError } from '../errors.js';
import { exponentialBuckets, linearBuckets } from './buckets.js';
import { evaluateDefinitionNumber } from './expression.js';
import { HISTOGRAM_KINDS } from './types.js';
import type { CompiledHistogram, HistogramDefinitions, HistogramKind } from './types.js';

/**
 * Compiles a revision's Histograms.json once into bucket bounds and
 * key -> index maps, so that converting a ping is only map lookups.
 */

/**
 * Largest bucket count accepted. Real revisions stay under 1,100 buckets; a
 * file asking for millions would make every worker allocate them for every
 * revision and every ping, so it is refused as invalid.
 */
export const MAX_BUCKET_COUNT = 10_000;

type RawDefinition = Record<string, unknown>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isKind(value: unknown): value is HistogramKind {
  return typeof value === 'string' && (HISTOGRAM_KINDS as readonly string[]).includes(value);
}

interface Shape {
  readonly low: number;
  readonly high: number;
  readonly bucketCount: number;
  readonly exponential: boolean;
}

function requiredNumber(definition: RawDefinition, field: string, name: string): number {
  if (!Object.hasOwn(definition, field)) throw new DefinitionError(`missing field ${field}`, name);
  return evaluateDefinitionNumber(definition[field], field, name);
}

function shapeOf(name: string, kind: HistogramKind, definition: RawDefinition): Shape {
  switch (kind) {
    case 'boolean':
    case 'flag':
    case 'count':
      return { low: 1, high: 2, bucketCount: 3, exponential: false };
    case 'enumerated': {
      const nValues = requiredNumber(definition, 'n_values', name);
      // One value would make low == high (and a zero-width linear division).
      if (nValues < 2) throw new DefinitionError(`n_values must be at least 2 (got ${nValues})`, name);
      return { low: 1, high: nValues, bucketCount: nValues + 1, exponential: false };
    }
    case 'linear':
    case 'exponential': {
      const high = requiredNumber(definition, 'high', name);
      const bucketCount = requiredNumber(definition, 'n_buckets', name);
      const declaredLow = Object.hasOwn(definition, 'low') ? evaluateDefinitionNumber(definition.low, 'low', name) : 1;
      // Firefox raises a minimum below 1 to 1 (Histogram::FactoryGet), so the
      // client's buckets, and therefore the submitted keys, start at 1.
      const low = Math.max(declaredLow, 1);
      if (bucketCount < 3) throw new DefinitionError(`n_buckets must be at least 3 (got ${bucketCount})`, name);
      if (low >= high) throw new DefinitionError(`low (${low}) must be below high (${high})`, name);
      return { low, high, bucketCount, exponential: kind === 'exponential' };
    }
  }
}

/** Compiles one histogram's definition; throws DefinitionError naming it when invalid. */
function compileHistogram(name: string, definition: unknown): CompiledHistogram {
  if (!isPlainObject(definition)) throw new DefinitionError('definition is not an object', name);
  if (!Object.hasOwn(definition, 'kind')) throw new DefinitionError('missing kind', name);
  const kind = definition.kind;
  if (!isKind(kind)) throw new DefinitionError(`unknown kind ${JSON.stringify(kind) ?? String(kind)}`, name);

  const shape = shapeOf(name, kind, definition);
  if (shape.bucketCount > MAX_BUCKET_COUNT) {
    throw new DefinitionError(`${shape.bucketCount} buckets is more than the ${MAX_BUCKET_COUNT} allowed`, name);
  }
  const bounds = shape.exponential
    ? exponentialBuckets(shape.low, shape.high, shape.bucketCount)
    : linearBuckets(shape.low, shape.high, shape.bucketCount);

  const indexByKey = new Map<string, number>();
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i] as number;
    // A linear histogram with more buckets than values repeats bounds; a
    // repeated key could not say which bucket a count belongs to.
    if (i > 0 && bound <= (bounds[i - 1] as number)) {
      throw new DefinitionError(`bucket bounds are not increasing (${shape.bucketCount} buckets over ${shape.low}..${shape.high})`, name);
    }
    indexByKey.set(String(bound), i);
  }

  return Object.freeze({
    name,
    kind,
    low: shape.low,
    high: shape.high,
    bucketCount: shape.bucketCount,
    bounds: Object.freeze(bounds),
    indexByKey,
    boundsArray: Float64Array.from(bounds),
  });
}

class CompiledDefinitions implements HistogramDefinitions {
  constructor(private readonly byName: ReadonlyMap<string, CompiledHistogram>) {}

  get(name: string): CompiledHistogram | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  names(): IterableIterator<string> {
    return this.byName.keys();
  }
}

/**
 * The histograms of a parsed Histograms.json: the real flat form
 * `{NAME: definition}` or a `{"histograms": {NAME: definition}}` wrapper.
 * Every histogram is compiled now, so a bad file fails once, at load, with
 * a DefinitionError, rather than in the middle of some later ping.
 */
export function compileHistogramDefinitions(json: unknown): HistogramDefinitions {
  if (!isPlainObject(json)) throw new DefinitionError('top level is not an object of histogram definitions');
  const table = unwrap(json);
  const byName = new Map<string, CompiledHistogram>();
  for (const name of Object.keys(table)) {
    byName.set(name, compileHistogram(name, table[name]));
  }
  // An empty file would silently drop every histogram of every ping.
  if (byName.size === 0) throw new DefinitionError('no histogram definitions');
  return new CompiledDefinitions(byName);
}

/** A wrapper is a single `histograms` key holding a table (not itself a definition with a kind). */
function unwrap(json: Record<string, unknown>): Record<string, unknown> {
  const keys = Object.keys(json);
  const inner = json.histograms;
  if (keys.length === 1 && keys[0] === 'histograms' && isPlainObject(inner) && !Object.hasOwn(inner, 'kind')) {
    return inner;
  }
  return json;
}

/** Parses and compiles the text of a Histograms.json; anything wrong is a DefinitionError. */
export function parseHistogramDefinitions(text: string): HistogramDefinitions {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DefinitionError(`not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  return compileHistogramDefinitions(json);
}
