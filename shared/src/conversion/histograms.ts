import { PingError } from '../errors.js';
import type { CompiledHistogram, HistogramDefinitions } from '../histograms/types.js';

/**
 * SPEC 4.2: a submitted histogram becomes one array, every bucket count in
 * bucket order (zeros included) followed by five statistics. This is the
 * general path, on parsed objects: plain loops and map lookups, no regex,
 * nothing allocated but the output. Pings converted from their text
 * (convertSubmission, convertPingText) usually take the fast path instead
 * (fast-path.ts: the histograms scanned from the text and written as JSON
 * directly, with the same rules and result), which falls back to this one.
 */

/** The statistics appended after the bucket counts, in output order. */
export const HISTOGRAM_STATISTICS = ['sum', 'log_sum', 'log_sum_squares', 'sum_squares_lo', 'sum_squares_hi'] as const;

/** Written in place of a statistic the client did not send. */
const ABSENT_STATISTIC = -1;

const STARTUP_PREFIX = 'STARTUP_';

export interface ConvertedHistograms {
  histograms: Record<string, number[]>;
  /** Submitted names with no definition in the revision (dropped, not an error). */
  dropped: string[];
}

/**
 * `STARTUP_X` -> definition of `X`, built once per definitions object (which
 * the revision cache reuses), so resolving a prefixed name costs one lookup
 * instead of slicing a new string for every such histogram of every ping.
 */
const startupAliases = new WeakMap<HistogramDefinitions, ReadonlyMap<string, CompiledHistogram>>();

function startupAliasesOf(definitions: HistogramDefinitions): ReadonlyMap<string, CompiledHistogram> {
  let aliases = startupAliases.get(definitions);
  if (aliases === undefined) {
    const built = new Map<string, CompiledHistogram>();
    for (const name of definitions.names()) {
      const histogram = definitions.get(name);
      if (histogram !== undefined) built.set(STARTUP_PREFIX + name, histogram);
    }
    aliases = built;
    startupAliases.set(definitions, aliases);
  }
  return aliases;
}

/** The definition for a submitted name: its own, else that of the name without `STARTUP_`. */
export function resolveHistogram(name: string, definitions: HistogramDefinitions): CompiledHistogram | undefined {
  const own = definitions.get(name);
  if (own !== undefined || !name.startsWith(STARTUP_PREFIX)) return own;
  return startupAliasesOf(definitions).get(name);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Quotes client text for an error message without copying a megabyte key into the error store. */
function quote(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `string ${quote(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : typeof value;
}

function conversionError(message: string): PingError {
  return new PingError('conversion_error', message);
}

function statisticValue(name: string, histogram: Record<string, unknown>, statistic: string): number {
  const value = histogram[statistic];
  if (value === undefined || value === null) return ABSENT_STATISTIC;
  // Infinity (e.g. a JSON 1e999) would be stored as null: refuse it like any non-number.
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw conversionError(`histogram ${quote(name)}: statistic ${statistic} is ${describe(value)}, not a finite number`);
  }
  return value;
}

/** One submitted histogram in its compact form; throws PingError('conversion_error'). */
function convertHistogram(name: string, submitted: unknown, definition: CompiledHistogram): number[] {
  if (!isPlainObject(submitted)) {
    throw conversionError(`histogram ${quote(name)} is ${describe(submitted)}, not an object`);
  }
  const values = submitted.values;
  if (!isPlainObject(values)) {
    throw conversionError(`histogram ${quote(name)}: values is ${describe(values)}, not an object`);
  }

  const bucketCount = definition.bucketCount;
  // Zero-filled up front: absent keys are empty buckets (measured faster than pushing).
  const converted = new Array<number>(bucketCount + HISTOGRAM_STATISTICS.length).fill(0);

  const indexByKey = definition.indexByKey;
  // Object.keys then an indexed loop: on JSON objects with integer keys it
  // measured twice as fast as for-in, whose element enumeration is slow.
  const keys = Object.keys(values);
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as string;
    const index = indexByKey.get(key);
    if (index === undefined) {
      throw conversionError(`histogram ${quote(name)}: bucket ${quote(key)} is not a bucket lower bound of its definition`);
    }
    const count = values[key];
    // Past 2^53 a count is no longer exact, and aggregates would drift silently.
    if (typeof count !== 'number' || !Number.isSafeInteger(count)) {
      throw conversionError(`histogram ${quote(name)}: bucket ${quote(key)} count is ${describe(count)}, not an integer`);
    }
    converted[index] = count;
  }

  for (let s = 0; s < HISTOGRAM_STATISTICS.length; s++) {
    converted[bucketCount + s] = statisticValue(name, submitted, HISTOGRAM_STATISTICS[s] as string);
  }
  return converted;
}

/**
 * Converts a ping's `histograms` object against its revision's definitions.
 * Unknown names are dropped and listed; any malformed known histogram makes
 * the whole ping a `conversion_error`.
 */
export function convertHistograms(
  histograms: Record<string, unknown>,
  definitions: HistogramDefinitions,
): ConvertedHistograms {
  const converted: Record<string, number[]> = {};
  const dropped: string[] = [];
  const names = Object.keys(histograms);
  for (let n = 0; n < names.length; n++) {
    const name = names[n] as string;
    const definition = resolveHistogram(name, definitions);
    if (definition === undefined) {
      dropped.push(name);
      continue;
    }
    const array = convertHistogram(name, histograms[name], definition);
    if (name === '__proto__') {
      // Plain assignment would replace the prototype and lose the histogram.
      Object.defineProperty(converted, name, { value: array, enumerable: true, writable: true, configurable: true });
    } else {
      converted[name] = array;
    }
  }
  return { histograms: converted, dropped };
}
