import { utcDateStamp } from '../dates.js';
import { DISALLOWED_VALUE, isAllowed, MISSING_VALUE } from './allowed-values.js';
import type { DimensionSchema } from './schema.js';
import { sanitizeDimensionValue } from './sanitize.js';

/** The dimension filled from the receive time rather than from `info`. */
const SUBMISSION_DATE_FIELD = 'submission_date';
/** Storage format version of every record this system writes (SPEC 4.4). */
export const STORAGE_FORMAT_VERSION = 'v2';
/** Compressions of finished files (SPEC 5) and of the 2013 archives (`lzma`). */
export type StorageCompression = 'gz' | 'zst' | 'xz' | 'lzma';

/** A ping's raw value for a field, as text; undefined when it has none. */
function rawValue(info: Record<string, unknown>, field: string): string | undefined {
  if (!Object.hasOwn(info, field)) return undefined;
  const value = info[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  // An object or array has no sensible single value: never allowed.
  return DISALLOWED_VALUE;
}

/**
 * The sanitised dimension values of a converted ping, in schema order:
 * `submission_date` is the receive date (YYYYMMDD, UTC); a missing (or null)
 * field is UNKNOWN; a value the schema does not allow is OTHER.
 */
export function dimensionValues(schema: DimensionSchema, info: Record<string, unknown>, receivedAtMs: number): string[] {
  if (!Number.isFinite(receivedAtMs)) throw new RangeError(`receive time is not a time: ${receivedAtMs}`);
  return schema.dimensions.map((dimension) => {
    const value =
      dimension.field_name === SUBMISSION_DATE_FIELD ? utcDateStamp(receivedAtMs) : rawValue(info, dimension.field_name);
    // Missing stays UNKNOWN even where the schema lists values (2013 turned it
    // into OTHER there): "the client did not say" is worth telling apart.
    if (value === undefined) return MISSING_VALUE;
    return sanitizeDimensionValue(isAllowed(dimension.allowed_values, value) ? value : DISALLOWED_VALUE);
  });
}

/** A file-name part: `.` would shift the dot-separated fields of the name. */
function fileNamePart(value: string): string {
  return sanitizeDimensionValue(value).replaceAll('.', '_');
}

/**
 * Where a record with these dimension values is stored (SPEC 4.4): `dir` is
 * d1/…/d(n-2) relative to STORAGE_DIR ('' for two dimensions), `fileStem` is
 * `<d(n-1)>.<dn>.v2` with dots in those two replaced by `_`. The writer appends
 * `.<writerId>.log` (see storageFileName). Values are sanitised again, which
 * is idempotent, so no caller can build a path outside the root.
 */
export function storageLocation(dims: readonly string[]): { dir: string; fileStem: string } {
  const n = dims.length;
  if (n < 2) throw new RangeError(`a storage location needs at least 2 dimension values, got ${n}`);
  const dir = dims.slice(0, n - 2).map(sanitizeDimensionValue).join('/');
  const fileStem = `${fileNamePart(dims[n - 2] ?? '')}.${fileNamePart(dims[n - 1] ?? '')}.${STORAGE_FORMAT_VERSION}`;
  return { dir, fileStem };
}

/**
 * The top-level directory of the generic-form layout (Glean pings), beside the
 * telemetry layout in STORAGE_DIR. It holds a `-`, which sanitizeDimensionValue
 * never leaves in a value, so no telemetry dimension value can ever name it.
 */
export const GENERIC_LAYOUT_DIR = 'generic-pings';

/**
 * The dimensions of the generic layout, in storage order: namespace, docType
 * and docVersion from the URL, channel and version from the ping
 * (`client_info.app_channel`, `client_info.app_display_version`), then the
 * receive date. Stored as
 * `generic-pings/<namespace>/<docType>/<docVersion>/<channel>/<version>.<date>.v2.<writerId>.log`.
 */
export const GENERIC_DIMENSIONS = ['namespace', 'docType', 'docVersion', 'channel', 'version', SUBMISSION_DATE_FIELD] as const;

/** Where a generic-form record with these (GENERIC_DIMENSIONS-ordered) values is stored: storageLocation under GENERIC_LAYOUT_DIR. */
export function genericStorageLocation(dims: readonly string[]): { dir: string; fileStem: string } {
  if (dims.length !== GENERIC_DIMENSIONS.length) throw new RangeError(`a generic storage location needs ${GENERIC_DIMENSIONS.length} dimension values, got ${dims.length}`);
  const { dir, fileStem } = storageLocation(dims);
  return { dir: `${GENERIC_LAYOUT_DIR}/${dir}`, fileStem };
}

// Writer ids and sequences must not contain `.` (the field separator).
const WRITER_ID = /^[A-Za-z0-9_-]{1,64}$/;
// The writer's sequences are millisecond times, 13 digits (names.ts), with room to grow.
const SEQUENCE = /^\d{1,17}$/;

/**
 * A storage file name: `<fileStem>.<writerId>.log` while written, and
 * `<fileStem>.<writerId>.<seq>.log.<compression>` once rotated (SPEC 5).
 */
export function storageFileName(
  fileStem: string,
  file: { writerId: string; seq?: string | number; compression?: StorageCompression },
): string {
  if (!WRITER_ID.test(file.writerId)) throw new RangeError(`invalid writer id "${file.writerId}"`);
  const seq = file.seq === undefined ? undefined : String(file.seq);
  if (seq !== undefined && !SEQUENCE.test(seq)) throw new RangeError(`invalid file sequence "${seq}"`);
  const parts = [fileStem, file.writerId];
  if (seq !== undefined) parts.push(seq);
  parts.push('log');
  if (file.compression !== undefined) parts.push(file.compression);
  return parts.join('.');
}

export interface StorageFileName {
  /** d(n-1) and dn as written in the name (dots replaced by `_`). */
  readonly dims: [string, string];
  /** Storage format version, e.g. `v2`. */
  readonly version: string;
  readonly writerId?: string;
  /** Rotation sequence (ours) or the 32-hex upload id of 2013 S3 names. */
  readonly seq?: string;
  /** `log`, `log.gz`, `log.zst`, `log.xz` or `log.lzma`. */
  readonly extension: string;
}

// X.Y.vN[.writer[.seq]].log[.gz|.zst|.xz|.lzma]
const OUR_NAME =
  /^([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\.(v\d+)(?:\.([A-Za-z0-9_-]{1,64})(?:\.(\d{1,17}))?)?\.(log(?:\.(?:gz|zst|xz|lzma))?)$/;
// 2013 archive names as uploaded to S3: X.Y.vN.log.<uuid hex>.lzma
const UPLOADED_2013_NAME = /^([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\.(v\d+)\.log\.([0-9a-f]{32})\.lzma$/;

/**
 * The dimensions and parts of a storage file name, or undefined for any
 * other file (temp files of an unfinished compression, stray files), so that
 * MapReduce can filter on names before opening anything.
 */
export function parseStorageFileName(name: string): StorageFileName | undefined {
  const ours = OUR_NAME.exec(name);
  if (ours) {
    const [, d1, d2, version, writerId, seq, extension] = ours;
    if (d1 === undefined || d2 === undefined || version === undefined || extension === undefined) return undefined;
    return {
      dims: [d1, d2],
      version,
      ...(writerId === undefined ? {} : { writerId }),
      ...(seq === undefined ? {} : { seq }),
      extension,
    };
  }
  const uploaded = UPLOADED_2013_NAME.exec(name);
  if (uploaded) {
    const [, d1, d2, version, uploadId] = uploaded;
    if (d1 === undefined || d2 === undefined || version === undefined || uploadId === undefined) return undefined;
    return { dims: [d1, d2], version, seq: uploadId, extension: 'log.lzma' };
  }
  return undefined;
}
