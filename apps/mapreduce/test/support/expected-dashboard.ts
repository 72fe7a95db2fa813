/**
 * What the dashboard job should publish for a set of records, computed the
 * plain way from records read by the independent reader (dataset.ts): no
 * code of the job is used. Bucket bounds come from the C++ converter's
 * oracle (fixtures/buckets), simple measures' too (a histogram there is
 * exponential(1, 30000, 50)). And a reader of the published files that turns
 * them back into the same shape.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { StoredRecord } from './dataset.js';
import { bucketOracle, REV_23, REV_23_URL, REV_24, REV_24_URL } from './generate.js';

/** `<channel>/<major>` -> MEASURE -> `by-build-date`|`by-submission-date` -> `<date>|<reason>/<appName>/<OS>/<osVersion>/<arch>` -> values. */
export type DashboardData = Map<string, Map<string, Map<string, Map<string, number[]>>>>;

type Json = Record<string, unknown>;

/** The value at a path of keys, or undefined. */
function at(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) current = typeof current === 'object' && current !== null ? (current as Json)[key] : undefined;
  return current;
}
const text = (value: unknown, fallback: unknown): string => {
  const given = value ?? fallback;
  return typeof given === 'string' || typeof given === 'number' ? String(given) : 'UNKNOWN';
};

const SIMPLE_BOUNDS = bucketOracle(REV_23).HTTP_SUBITEM_OPEN_LATENCY_TIME?.buckets ?? [];
/** Revision URL -> histogram name -> bucket count, for the revisions the test Mercurial server has. */
export const KNOWN_REVISIONS = new Map<string, Map<string, number>>(
  [
    [REV_23_URL, REV_23],
    [REV_24_URL, REV_24],
  ].map(([url, rev]) => [url ?? '', new Map(Object.entries(bucketOracle(rev ?? '')).map(([name, h]) => [name, h.bucket_count]))]),
);

function dayNumber(stamp: string): number {
  return Date.UTC(Number(stamp.slice(0, 4)), Number(stamp.slice(4, 6)) - 1, Number(stamp.slice(6, 8))) / 86_400_000;
}

function add(into: number[], from: number[]): void {
  const stats = from.length - 6;
  for (let i = 0; i < from.length; i += 1) {
    const a = into[i] ?? 0;
    const b = from[i] ?? 0;
    // telemetry-aggregator: a statistic adds unless both sides are -1.
    if (i >= stats && i < from.length - 1) into[i] = a === -1 && b === -1 ? -1 : a + b;
    else into[i] = a + b;
  }
  for (let i = 0; i < into.length; i += 1) if (into[i] === Infinity) into[i] = Number.MAX_VALUE;
}

function simple(value: number): number[] {
  const counts = SIMPLE_BOUNDS.map(() => 0);
  let bucket = 0;
  SIMPLE_BOUNDS.forEach((bound, i) => {
    if (value >= bound) bucket = i;
  });
  counts[bucket] = 1;
  const log = Math.log(Math.abs(value) + 1);
  return [...counts, value, log, log * log, 0, 0, 1];
}

/** The data the records should give (every record here is in one layout per measure). */
export function expectedDashboard(records: readonly StoredRecord[], revisions = KNOWN_REVISIONS): DashboardData {
  const data: DashboardData = new Map();
  for (const { file, json } of records) {
    const [reason = '', appName = '', channel = '', version = '', name = ''] = file.split('/');
    const [buildId = '', submission = ''] = name.split('.');
    const buildDate = buildId.slice(0, 8);
    if (!/^\d{8}$/.test(buildDate)) continue;
    const ping = JSON.parse(json) as Json;
    const unified = ping.version === 5;
    const body = unified ? at(ping, 'payload') : ping;
    const os = text(at(ping, 'info', 'OS'), at(ping, 'environment', 'system', 'os', 'name'));
    const osVersion = text(at(ping, 'info', 'version'), at(ping, 'environment', 'system', 'os', 'version'));
    const filter = [reason, appName, os, os === 'Linux' ? osVersion.slice(0, 3) : osVersion, text(at(ping, 'info', 'arch'), undefined)].join('/');
    const dates: [string, string][] = [['by-build-date', buildDate]];
    if (dayNumber(submission) - dayNumber(buildDate) <= 60) dates.push(['by-submission-date', submission]);
    const version_ = `${channel}/${version.split('.')[0]}`;
    const put = (measure: string, values: number[]) => {
      let measures = data.get(version_);
      if (!measures) data.set(version_, (measures = new Map<string, Map<string, Map<string, number[]>>>()));
      let byDate = measures.get(measure);
      if (!byDate) {
        byDate = new Map([
          ['by-build-date', new Map<string, number[]>()],
          ['by-submission-date', new Map<string, number[]>()],
        ]);
        measures.set(measure, byDate);
      }
      for (const [type, date] of dates) {
        const cells = byDate.get(type) ?? new Map<string, number[]>();
        const cell = cells.get(`${date}|${filter}`);
        if (cell) add(cell, values);
        else cells.set(`${date}|${filter}`, values.slice());
      }
    };
    const known = revisions.get(String(at(body, 'info', 'revision')));
    for (const [measure, values] of Object.entries((at(body, 'histograms') ?? {}) as Record<string, number[]>)) {
      const buckets = known?.get(measure);
      if (buckets !== undefined && values.length === buckets + 5) put(measure, [...values, 1]);
    }
    for (const [key, value] of Object.entries((at(body, 'simpleMeasurements') ?? {}) as Json)) {
      const entries = typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.entries(value as Json).map(([k, v]) => [`${key}_${k}`, v] as const) : [[key, value] as const];
      for (const [measure, v] of entries) if (typeof v === 'number') put(`SIMPLE_MEASURES_${measure.toUpperCase()}`, simple(v));
    }
  }
  return data;
}

/** The published directory read back into the same shape, filter ids resolved through each folder's tree. */
export async function readPublished(outDir: string): Promise<{ data: DashboardData; folders: Record<string, string> }> {
  const folders = JSON.parse(await readFile(path.join(outDir, 'versions.json'), 'utf8')) as Record<string, string>;
  const data: DashboardData = new Map();
  for (const [version, folder] of Object.entries(folders)) {
    const dir = path.join(outDir, folder);
    const read = async (file: string) => JSON.parse(await readFile(path.join(dir, file), 'utf8')) as Json;
    const leaves = new Map<number, string>();
    const walk = (node: Json, trail: string[]) => {
      const children = Object.keys(node).filter((key) => key !== '_id' && key !== 'name');
      if (children.length === 0 && trail.length === 5) leaves.set(node._id as number, trail.join('/'));
      for (const key of children) walk(node[key] as Json, [...trail, key]);
    };
    walk(await read('filter-tree.json'), []);
    const measures = new Map<string, Map<string, Map<string, number[]>>>();
    for (const measure of Object.keys(await read('histograms.json'))) {
      const byDate = new Map<string, Map<string, number[]>>();
      for (const type of ['by-build-date', 'by-submission-date']) {
        const cells = new Map<string, number[]>();
        for (const [date, arrays] of Object.entries(await read(`${measure}-${type}.json`))) {
          for (const array of arrays as number[][]) {
            const leaf = leaves.get(array[array.length - 1] ?? -1);
            if (leaf === undefined) throw new Error(`${folder}/${measure}-${type}.json: filter id ${array[array.length - 1]} is not a leaf`);
            cells.set(`${date}|${leaf}`, array.slice(0, -1));
          }
        }
        byDate.set(type, cells);
      }
      measures.set(measure, byDate);
    }
    data.set(version, measures);
  }
  return { data, folders };
}

/** Fails with the first difference: counts and submissions exactly, statistics to 9 significant digits. */
export function compareDashboards(actual: DashboardData, expected: DashboardData): string[] {
  const problems: string[] = [];
  const keys = (map: Map<string, unknown>) => [...map.keys()].sort().join(',');
  if (keys(actual) !== keys(expected)) return [`versions: ${keys(actual)} != ${keys(expected)}`];
  for (const [version, measures] of expected) {
    const got = actual.get(version) ?? new Map<string, Map<string, Map<string, number[]>>>();
    if (keys(got) !== keys(measures)) problems.push(`${version} measures: ${keys(got)} != ${keys(measures)}`);
    for (const [measure, byDate] of measures) {
      for (const [type, cells] of byDate) {
        const gotCells = got.get(measure)?.get(type) ?? new Map<string, number[]>();
        if (keys(gotCells) !== keys(cells)) problems.push(`${version} ${measure} ${type}: cells ${keys(gotCells)} != ${keys(cells)}`);
        for (const [cell, values] of cells) {
          const have = gotCells.get(cell) ?? [];
          const stats = values.length - 6;
          const same = have.length === values.length && values.every((v, i) => (i >= stats && i < values.length - 1 ? Math.abs(v - (have[i] ?? NaN)) <= 1e-9 * Math.max(1, Math.abs(v)) : v === have[i]));
          if (!same) problems.push(`${version} ${measure} ${type} ${cell}: ${JSON.stringify(have)} != ${JSON.stringify(values)}`);
        }
      }
    }
  }
  return problems.slice(0, 10);
}
