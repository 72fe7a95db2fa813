/**
 * Input filters (SPEC 7): a schema-shaped JSON selecting files by the
 * dimension values in their path. Directories d1..d(n-2) are pruned while
 * walking (a rejected directory is never listed) and the two file-name
 * dimensions are checked before a file is opened, so a filter on a date or a
 * channel costs nothing for the data it leaves out.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isAllowed, WILDCARD } from '@telemetry/shared/dimensions/allowed-values';
import { sanitizeDimensionValue } from '@telemetry/shared/dimensions/sanitize';
import { loadDimensionSchema, parseDimensionSchema, type AllowedValues, type DimensionSchema } from '@telemetry/shared/dimensions/schema';
import { GENERIC_LAYOUT_DIR, parseStorageFileName, STORAGE_FORMAT_VERSION } from '@telemetry/shared/dimensions/storage-path';
import { SchemaError } from '@telemetry/shared/errors';
import { reservedDimensionName } from './dims.js';
import { InputFilterError } from './errors.js';

export interface InputFilter {
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

function compileInputFilter(schema: DimensionSchema): InputFilter {
  for (const { field_name: name } of schema.dimensions) {
    const reserved = reservedDimensionName(name);
    // Jobs get dims as a list that has the values by name too (dims.ts).
    if (reserved !== undefined) throw new InputFilterError(`input filter: a dimension cannot be named "${name}": ${reserved}`);
  }
  const n = schema.dimensions.length;
  return {
    fieldNames: schema.dimensions.map((d) => d.field_name),
    allowed: schema.dimensions.map((d, index) => sanitizeAllowed(d.allowed_values, index >= n - 2)),
  };
}

/** Reads and validates a filter file (or takes an already-parsed one). */
export async function loadInputFilter(source: unknown): Promise<InputFilter> {
  try {
    const schema = typeof source === 'string' ? await loadDimensionSchema(source) : parseDimensionSchema(source, 'input filter');
    return compileInputFilter(schema);
  } catch (error) {
    if (error instanceof SchemaError) throw new InputFilterError(`input filter ${error.message}`, { cause: error });
    throw error;
  }
}

/** A filter that takes everything, with the field names of `schema`. */
export function allowAllFilter(schema: DimensionSchema): InputFilter {
  return { fieldNames: schema.dimensions.map((d) => d.field_name), allowed: schema.dimensions.map(() => WILDCARD) };
}

/**
 * The input files under `dataDir` that the filter selects, sorted by path.
 * Only names are read (readdir) and sizes (stat): no file is opened.
 */
export async function selectInputFiles(dataDir: string, filter: InputFilter, counters?: WalkCounters): Promise<InputFile[]> {
  const root = path.resolve(dataDir);
  const rootInfo = await stat(root).catch(() => undefined);
  if (!rootInfo?.isDirectory()) throw new InputFilterError(`data directory ${dataDir} does not exist or is not a directory`);
  const tally: WalkCounters = counters ?? { pruned: 0, ignored: 0 };
  const n = filter.fieldNames.length;
  const selected: InputFile[] = [];

  const walk = async (dir: string, relative: string[]): Promise<void> => {
    const depth = relative.length;
    const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      // The generic (Glean) layout lives beside this one in STORAGE_DIR; its files are not telemetry records.
      // (A filter over that layout would walk from GENERIC_LAYOUT_DIR instead: not built yet.)
      if (depth === 0 && entry.name === GENERIC_LAYOUT_DIR) {
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
      selected.push({ path: [...relative, entry.name].join('/'), size, dims: [...relative, fileDim, dateDim] });
    }
  };
  await walk(root, []);
  return selected;
}
