/**
 * File naming of the storage layout (SPEC 4.4 / 5) and the path checks that keep
 * every file inside its root. One place decides names so the writer, its crash
 * recovery and the readers can never disagree about what a file is.
 *
 *   active file        <fileStem>.<writerId>.log
 *   finished file      <fileStem>.<writerId>.<seq>.log
 *   compressed file    <fileStem>.<writerId>.<seq>.log.gz | .log.zst | .log.xz
 *   compression temp   <compressed file>.tmp   (readers ignore it by extension)
 *
 * `seq` is the millisecond time (from the writer's clock) at which the file was
 * opened, zero-padded to 13 digits so names sort chronologically; when that
 * name is already taken (two files of one stem opened in the same millisecond,
 * or a restart with a clock that went back) it is bumped by one until free.
 */
import path from 'node:path';

export type Compression = 'gzip' | 'zstd' | 'xz' | 'none';

/** Extension appended to a finished `.log` file by each codec. */
export const COMPRESSED_EXTENSIONS = { gzip: '.gz', zstd: '.zst', xz: '.xz' } as const;
export const ALL_COMPRESSED_EXTENSIONS: readonly string[] = Object.values(COMPRESSED_EXTENSIONS);
export const TEMP_SUFFIX = '.tmp';

/** A file name is at most 255 bytes on every filesystem we target. */
const MAX_NAME_BYTES = 255;
/** Longest suffix we ever add to `<fileStem>.<writerId>`: `.<13 digits>.log.zst.tmp`. */
const LONGEST_SUFFIX_BYTES = '.0000000000000.log.zst.tmp'.length + 4; // +4: room for seq beyond 13 digits

/**
 * A writerId must not contain dots (names are split on them) and must not be all
 * digits, so `<stem>.<id>.<seq>.log` of one writer can never parse as the active
 * file of a writer whose id looks like a seq.
 */
const WRITER_ID_RE = /^(?=.*[A-Za-z_-])[A-Za-z0-9_-]{1,64}$/;

/** Thrown for a storage target that could escape the root: a bug upstream, never retried. */
export class UnsafeStoragePathError extends Error {
  override readonly name = 'UnsafeStoragePathError';
}

export function assertValidWriterId(writerId: string): void {
  if (!WRITER_ID_RE.test(writerId)) {
    throw new UnsafeStoragePathError(
      `writerId ${JSON.stringify(writerId)} must be 1-64 of [A-Za-z0-9_-] with at least one non-digit`,
    );
  }
}

function assertSafeComponent(component: string, what: string): void {
  // '.'/'..' and separators are what can move a path; '\0' truncates it in C.
  // A component merely containing '..' (e.g. a sanitised version "1..2") is a
  // plain name and is allowed, or a client could make a message un-storable.
  if (component === '' || component === '.' || component === '..' || /[/\\\0]/.test(component)) {
    throw new UnsafeStoragePathError(`unsafe ${what} component ${JSON.stringify(component)}`);
  }
  if (Buffer.byteLength(component) > MAX_NAME_BYTES) {
    throw new UnsafeStoragePathError(`${what} component longer than ${MAX_NAME_BYTES} bytes`);
  }
}

/** Where one (dir, fileStem) of one writer lives. */
export interface StorageTarget {
  /** Absolute directory of the file. */
  dirAbs: string;
  /** `<fileStem>.<writerId>`: every name of this target starts with it. */
  base: string;
  /** Absolute path of the active file. */
  activePath: string;
}

/**
 * Resolve a record's target, refusing anything that could leave `rootAbs`
 * (defence in depth: dimension values are sanitised before they get here).
 */
export function resolveTarget(rootAbs: string, writerId: string, dir: string, fileStem: string): StorageTarget {
  const components = dir === '' ? [] : dir.split('/');
  for (const c of components) assertSafeComponent(c, 'directory');
  assertSafeComponent(fileStem, 'file stem');
  const base = `${fileStem}.${writerId}`;
  if (Buffer.byteLength(base) + LONGEST_SUFFIX_BYTES > MAX_NAME_BYTES) {
    throw new UnsafeStoragePathError(`file stem ${JSON.stringify(fileStem.slice(0, 40))}... is too long`);
  }
  const dirAbs = path.resolve(rootAbs, ...components);
  if (dirAbs !== rootAbs && !dirAbs.startsWith(rootAbs + path.sep)) {
    throw new UnsafeStoragePathError(`directory ${JSON.stringify(dir)} resolves outside the storage root`);
  }
  return { dirAbs, base, activePath: path.join(dirAbs, `${base}.log`) };
}

function formatSeq(seq: number): string {
  return String(Math.max(0, Math.floor(seq))).padStart(13, '0');
}

export function finishedName(base: string, seq: number): string {
  return `${base}.${formatSeq(seq)}.log`;
}

/** What a file name in a storage tree means to the writer `writerId`. */
export type OwnedFile =
  | { kind: 'active'; base: string }
  | { kind: 'finished'; base: string; seq: number }
  | { kind: 'compressed'; base: string; seq: number; ext: string }
  | { kind: 'temp'; base: string };

/** Classify a file name; undefined when it is not one of `writerId`'s files. */
export function classifyOwnedFile(name: string, writerId: string): OwnedFile | undefined {
  // writerId is [A-Za-z0-9_-] only, so it needs no regex escaping.
  const m = new RegExp(`^(.+\\.${writerId})(?:\\.(\\d{13,}))?\\.log((?:\\.gz|\\.zst|\\.xz)(\\.tmp)?)?$`).exec(name);
  if (!m) return undefined;
  const [, base = '', seqText, compressedExt, tempSuffix] = m;
  if (seqText === undefined) return compressedExt === undefined ? { kind: 'active', base } : undefined;
  const seq = Number(seqText);
  if (compressedExt === undefined) return { kind: 'finished', base, seq };
  if (tempSuffix !== undefined) return { kind: 'temp', base };
  return { kind: 'compressed', base, seq, ext: compressedExt };
}
