/**
 * What the dashboard job takes from one stored record (SPEC 7, as
 * telemetry-aggregator took it): the channel and major version it is filed
 * under, its build and submission dates, its filter path (reason, appName,
 * OS, osVersion, arch), its histograms with their revision, and its simple
 * measures turned into histograms.
 */
import { parseDateStamp } from '@telemetry/shared/dates';
import { DISALLOWED_VALUE, MISSING_VALUE } from '@telemetry/shared/dimensions/allowed-values';
import { MAX_DIMENSION_VALUE_LENGTH, sanitizeDimensionValue } from '@telemetry/shared/dimensions/sanitize';
import { exponentialBuckets } from '@telemetry/shared/histograms/buckets';
import type { Dims } from '../dims.js';
import type { Values } from './aggregate.js';

/** The filter tree's levels, root first (filter-tree.json). */
export const FILTER_LEVELS = ['reason', 'appName', 'OS', 'osVersion', 'arch'] as const;

/** Simple measures are histograms on exponential(1, 30000, 50) (telemetry-aggregator). */
export const SIMPLE_MEASURES_PREFIX = 'SIMPLE_MEASURES_';
export const SIMPLE_MEASURES_REVISION = 'simple-measures-hack';
export const SIMPLE_MEASURE_SHAPE = { kind: 'exponential', low: 1, high: 30000, n_buckets: 50 } as const;
const SIMPLE_BOUNDS = exponentialBuckets(SIMPLE_MEASURE_SHAPE.low, SIMPLE_MEASURE_SHAPE.high, SIMPLE_MEASURE_SHAPE.n_buckets);

/** By submission date only while the submission is at most this many days after the build date. */
const SUBMISSION_WINDOW_DAYS = 60;
const DAY_MS = 24 * 3600 * 1000;

/** A measure's name is a file name in the published folders: nothing else may pass. */
const MEASURE_NAME = /^[A-Za-z0-9_]{1,200}$/;
export const isMeasureName = (name: string): boolean => MEASURE_NAME.test(name);

export interface DashboardRecord {
  readonly channel: string;
  readonly majorVersion: string;
  readonly buildId: string;
  readonly buildDate: string;
  /** undefined when the record is not in the submission-date window (or has no date). */
  readonly submissionDate: string | undefined;
  readonly filter: readonly string[];
  readonly histograms: unknown;
  readonly revision: unknown;
  readonly simpleMeasurements: unknown;
}

type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const objectAt = (value: unknown, ...keys: string[]): Json => {
  let current: unknown = value;
  for (const key of keys) current = isObject(current) ? current[key] : undefined;
  return isObject(current) ? current : {};
};

/**
 * A filter value as a key of filter-tree.json: the tree's own keys (`_id`,
 * `name`) and `__proto__` cannot be values, and a value is as long as a
 * dimension value at most.
 */
function filterValue(value: unknown): string {
  if (value === undefined || value === null) return MISSING_VALUE;
  const text = (typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value)).slice(0, MAX_DIMENSION_VALUE_LENGTH);
  if (text === '') return MISSING_VALUE;
  return text === '_id' || text === 'name' || text === '__proto__' ? DISALLOWED_VALUE : text;
}

/** A dimension: the value the record is filed under when the filter names it, else the record's own, sanitised like a path. */
function dimension(dims: Dims, info: Json, field: string): string {
  const own = info[field];
  return dims[field] ?? sanitizeDimensionValue(typeof own === 'string' || typeof own === 'number' ? String(own) : MISSING_VALUE);
}

/** The record's fields, or the reason it cannot be placed (a build id that does not start with a date). */
export function dashboardRecord(ping: Json, dims: Dims): DashboardRecord | 'invalid_build_date' {
  const info = objectAt(ping, 'info');
  const unified = ping.version === 5;
  const payload = unified ? objectAt(ping, 'payload') : ping;
  const os = objectAt(ping, 'environment', 'system', 'os');
  const buildId = dimension(dims, info, 'appBuildID');
  const buildDate = buildId.slice(0, 8);
  const buildMs = parseDateStamp(buildDate);
  if (buildMs === undefined) return 'invalid_build_date';
  const submissionDate = dims.submission_date;
  const submissionMs = submissionDate === undefined ? undefined : parseDateStamp(submissionDate);
  const inWindow = submissionMs !== undefined && submissionMs - buildMs <= SUBMISSION_WINDOW_DAYS * DAY_MS;

  const osName = filterValue(info.OS ?? os.name);
  const osVersion = filterValue(info.version ?? os.version);
  const version = dimension(dims, info, 'appVersion');
  return {
    channel: dimension(dims, info, 'appUpdateChannel'),
    majorVersion: sanitizeDimensionValue(version.split('.')[0] ?? ''),
    buildId,
    buildDate,
    submissionDate: inWindow ? submissionDate : undefined,
    filter: [
      filterValue(dimension(dims, info, 'reason')),
      filterValue(dimension(dims, info, 'appName')),
      osName,
      osName === 'Linux' ? osVersion.slice(0, 3) : osVersion,
      filterValue(info.arch),
    ],
    histograms: payload.histograms,
    revision: (unified ? objectAt(payload, 'info') : info).revision,
    simpleMeasurements: payload.simpleMeasurements,
  };
}

/** A simple measurement as one submission of its histogram: 1 in its bucket (below 1: bucket 0), sum, log sums, 0 for the squares. */
function simpleValues(value: number): Values {
  const values: Values = new Array<number>(SIMPLE_BOUNDS.length).fill(0);
  let bucket = 0;
  for (let i = SIMPLE_BOUNDS.length - 1; i > 0; i -= 1) {
    if (value >= (SIMPLE_BOUNDS[i] ?? Infinity)) {
      bucket = i;
      break;
    }
  }
  values[bucket] = 1;
  const logValue = Math.log(Math.abs(value) + 1);
  values.push(value, logValue, logValue * logValue, 0, 0, 1);
  return values;
}

/**
 * The record's simple measures as histograms: `SIMPLE_MEASURES_<NAME>` for
 * each number, and `SIMPLE_MEASURES_<NAME>_<SUB>` for each number of an
 * object entry (e.g. `js.customIter`), names in upper case. Other entries
 * (strings, lists, booleans) are not measures.
 */
export function simpleMeasures(simple: unknown): Map<string, Values> {
  const measures = new Map<string, Values>();
  if (!isObject(simple)) return measures;
  const add = (name: string, value: unknown): void => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return;
    measures.set(`${SIMPLE_MEASURES_PREFIX}${name.toUpperCase()}`, simpleValues(value));
  };
  for (const [name, value] of Object.entries(simple)) {
    if (isObject(value)) for (const [sub, subValue] of Object.entries(value)) add(`${name}_${sub}`, subValue);
    else add(name, value);
  }
  return measures;
}
