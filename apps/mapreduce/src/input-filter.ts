/**
 * Input filters (SPEC 7): a schema-shaped JSON selecting files by the
 * dimension values in their path. Directories d1..d(n-2) are pruned while
 * walking (a rejected directory is never listed) and the two file-name
 * dimensions are checked before a file is opened, so a filter on a date or a
 * channel costs nothing for the data it leaves out.
 *
 * A filter reads one of the two layouts of STORAGE_DIR, named by its
 * `layout`: `telemetry` (the default; the dimensions are the storage
 * schema's, in order) or `generic` (the Glean pings under GENERIC_LAYOUT_DIR;
 * dimensions named from GENERIC_DIMENSIONS, in any order, the others `*`).
 * Selected paths stay relative to STORAGE_DIR, so a map task (local or on a
 * BullMQ worker) needs nothing but the paths and field names of its plan.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isAllowed, WILDCARD } from '@telemetry/shared/dimensions/allowed-values';
import { sanitizeDimensionValue } from '@telemetry/shared/dimensions/sanitize';
import { parseDimensionSchema, type AllowedValues, type DimensionSchema } from '@telemetry/shared/dimensions/schema';
import { GENERIC_DIMENSIONS, GENERIC_LAYOUT_DIR, parseStorageFileName, STORAGE_FORMAT_VERSION } from '@telemetry/shared/dimensions/storage-path';
import { SchemaError } from '@telemetry/shared/errors';
import { reservedDimensionName } from './dims.js';
import { InputFilterError } from './errors.js';

/** The storage layouts a filter can read: telemetry's (SPEC 4.4) or the generic form's (Glean pings). */
export const STORAGE_LAYOUTS = ['telemetry', 'generic'] as const;
export type StorageLayout = (typeof STORAGE_LAYOUTS)[number];

export interface InputFilter {
  readonly layout: StorageLayout;
  readonly fieldNames: readonly string[];
  /** Allowed values per dimension, sanitised the way the stored path was. */
  readonly allowed: readonly AllowedValues[];
}

/** One selected input file. */
export interface InputFile {
  /** Relative to the data directory, with `/` separators. */
  readonly path: string;
  /** Size on disk (compressed), for splitting and progress. */
  readonly size: number;
  /** Dimension values in filter order, as written in the path. */
  readonly dims: readonly string[];
}

export interface WalkCounters {
  /** Directories and files left out by the filter (not entered, not opened). */
  pruned: number;
  /** Files whose name is not a storage file name (temp files, strays), or another storage format. */
  ignored: number;
}

/**
 * Allowed values as they appear in paths: sanitised like stored values and,
 * for the two file-name dimensions, with `.` replaced by `_` as in file names.
 * Ranges keep their bounds: numbers and dates contain nothing to replace.
 */
function sanitizeAllowed(allowed: AllowedValues, inFileName: boolean): AllowedValues {
  const one = (value: string): string => {
    const safe = sanitizeDimensionValue(value);
    return inFileName ? safe.replaceAll('.', '_') : safe;
  };
  if (typeof allowed === 'string') return allowed === WILDCARD ? allowed : one(allowed);
  if (Array.isArray(allowed)) return (allowed as readonly string[]).map(one);
  return allowed;
}

function compileInputFilter(schema: DimensionSchema, layout: StorageLayout): InputFilter {
  for (const { field_name: name } of schema.dimensions) {
    const reserved = reservedDimensionName(name);
    // Jobs get dims as a list that has the values by name too (dims.ts).
    if (reserved !== undefined) throw new InputFilterError(`input filter: a dimension cannot be named "${name}": ${reserved}`);
  }
  const n = schema.dimensions.length;
  return {
    layout,
    fieldNames: schema.dimensions.map((d) => d.field_name),
    allowed: schema.dimensions.map((d, index) => sanitizeAllowed(d.allowed_values, index >= n - 2)),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function layoutOf(json: unknown): StorageLayout {
  const layout = isRecord(json) ? (json.layout ?? 'telemetry') : 'telemetry';
  if (typeof layout === 'string' && (STORAGE_LAYOUTS as readonly string[]).includes(layout)) return layout as StorageLayout;
  throw new InputFilterError(`input filter: layout must be one of ${STORAGE_LAYOUTS.map((l) => `"${l}"`).join(', ')}, got ${JSON.stringify(layout)}`);
}

/**
 * A generic-layout filter as a full schema in GENERIC_DIMENSIONS order: the
 * dimensions it names (any order, each at most once) keep their values, the
 * others allow anything. Validated as a schema, so the value forms and their
 * errors are those of telemetry filters.
 */
function genericSchema(json: Record<string, unknown>, source: string): DimensionSchema {
  const given = Array.isArray(json.dimensions) ? (json.dimensions as unknown[]) : undefined;
  if (given === undefined) return parseDimensionSchema(json, source); // says what is wrong with `dimensions`
  const names = given.map((d) => (isRecord(d) ? d.field_name : undefined));
  for (const name of names) {
    if (typeof name === 'string' && !(GENERIC_DIMENSIONS as readonly string[]).includes(name)) {
      throw new InputFilterError(`input filter: the generic layout has no dimension "${name}" (it has ${GENERIC_DIMENSIONS.join(', ')})`);
    }
  }
  // Given ones first, so a duplicate or a malformed entry is reported as parseDimensionSchema reports it.
  const rest = GENERIC_DIMENSIONS.filter((field) => !names.includes(field)).map((field_name) => ({ field_name, allowed_values: WILDCARD }));
  const schema = parseDimensionSchema({ version: json.version, dimensions: [...given, ...rest] }, source);
  const byName = new Map(schema.dimensions.map((d) => [d.field_name, d]));
  return { version: schema.version, dimensions: GENERIC_DIMENSIONS.map((field) => byName.get(field) ?? { field_name: field, allowed_values: WILDCARD }) };
}

async function readFilterFile(file: string): Promise<unknown> {
  const name = path.resolve(file);
  let text: string;
  try {
    text = await readFile(name, 'utf8');
  } catch (error) {
    throw new InputFilterError(`input filter ${name}: cannot read the schema file (${(error as Error).message})`, { cause: error });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputFilterError(`input filter ${name}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
}

/** Reads and validates a filter file (or takes an already-parsed one). */
export async function loadInputFilter(source: unknown): Promise<InputFilter> {
  const json = typeof source === 'string' ? await readFilterFile(source) : source;
  const name = typeof source === 'string' ? path.resolve(source) : 'input filter';
  const layout = layoutOf(json);
  try {
    const schema = layout === 'generic' && isRecord(json) ? genericSchema(json, name) : parseDimensionSchema(json, name);
    return compileInputFilter(schema, layout);
  } catch (error) {
    if (error instanceof SchemaError) throw new InputFilterError(typeof source === 'string' ? `input filter ${error.message}` : error.message, { cause: error });
    throw error;
  }
}

/** loadInputFilter for a job that reads telemetry records only (the shipped histogram and dashboard jobs): a generic-layout filter is refused. */
export async function loadTelemetryFilter(source: unknown, job: string): Promise<InputFilter> {
  const filter = await loadInputFilter(source);
  if (filter.layout !== 'telemetry') throw new InputFilterError(`input filter: the ${job} job reads the telemetry layout, not "${filter.layout}"`);
  return filter;
}

/** A filter that takes everything, with the field names of `schema`. */
export function allowAllFilter(schema: DimensionSchema): InputFilter {
  return { layout: 'telemetry', fieldNames: schema.dimensions.map((d) => d.field_name), allowed: schema.dimensions.map(() => WILDCARD) };
}

/**
 * The input files under `dataDir` (STORAGE_DIR) that the filter selects, in
 * its layout, sorted by path. Only names are read (readdir) and sizes (stat):
 * no file is opened. No generic layout yet (no Glean ping stored): no files.
 */
export async function selectInputFiles(dataDir: string, filter: InputFilter, counters?: WalkCounters): Promise<InputFile[]> {
  const root = path.resolve(dataDir);
  const rootInfo = await stat(root).catch(() => undefined);
  if (!rootInfo?.isDirectory()) throw new InputFilterError(`data directory ${dataDir} does not exist or is not a directory`);
  const tally: WalkCounters = counters ?? { pruned: 0, ignored: 0 };
  const n = filter.fieldNames.length;
  const selected: InputFile[] = [];
  const generic = filter.layout === 'generic';

  const walk = async (dir: string, relative: string[]): Promise<void> => {
    const depth = relative.length;
    const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      // The generic (Glean) layout lives beside this one in STORAGE_DIR; its files are not telemetry records.
      if (!generic && depth === 0 && entry.name === GENERIC_LAYOUT_DIR) {
        tally.ignored += 1;
        continue;
      }
      if (depth < n - 2) {
        if (!entry.isDirectory()) {
          tally.ignored += 1;
        } else if (isAllowed(filter.allowed[depth] ?? WILDCARD, entry.name)) {
          await walk(path.join(dir, entry.name), [...relative, entry.name]);
        } else {
          tally.pruned += 1;
        }
        continue;
      }
      const name = entry.isFile() ? parseStorageFileName(entry.name) : undefined;
      if (name === undefined || name.version !== STORAGE_FORMAT_VERSION) {
        tally.ignored += 1;
        continue;
      }
      const [fileDim, dateDim] = name.dims;
      if (!isAllowed(filter.allowed[n - 2] ?? WILDCARD, fileDim) || !isAllowed(filter.allowed[n - 1] ?? WILDCARD, dateDim)) {
        tally.pruned += 1;
        continue;
      }
      const file = path.join(dir, entry.name);
      const { size } = await stat(file);
      const relativePath = [...(generic ? [GENERIC_LAYOUT_DIR] : []), ...relative, entry.name].join('/');
      selected.push({ path: relativePath, size, dims: [...relative, fileDim, dateDim] });
    }
  };
  if (!generic) {
    await walk(root, []);
  } else {
    const genericRoot = path.join(root, GENERIC_LAYOUT_DIR);
    if ((await stat(genericRoot).catch(() => undefined))?.isDirectory()) await walk(genericRoot, []);
  }
  return selected;
}
