/**
 * The top level of a published dashboard directory:
 *   versions.json      {"<channel>/<majorVersion>": "<folder>"}: the commit point
 *   FILES_PROCESSED    input files merged in, one relative path per line
 *   FILES_MISSING      input files that could not be read (tried again next run)
 *   <YYYYMMDDhhmmss>-<channel>-<majorVersion>/   the folders, never changed once written
 *
 * A run writes new folders (under a temp name, renamed when complete), then
 * a journal with its FILES_* (`.pending-commit.json`), then versions.json,
 * then FILES_*, then removes the journal. A run that dies before versions.json
 * left nothing published (its folders are removed later); one that dies after
 * it has its FILES_* written from the journal by the next run. So an input
 * file is merged in exactly when it is listed in FILES_PROCESSED.
 * Folders that neither the new nor the previous versions.json names are
 * removed after the commit (the previous generation stays one run, for pages
 * that read versions.json a moment ago).
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseStorageFileName } from '@telemetry/shared/dimensions/storage-path';

const VERSIONS = 'versions.json';
const PROCESSED = 'FILES_PROCESSED';
const MISSING = 'FILES_MISSING';
const JOURNAL = '.pending-commit.json';
/** `<YYYYMMDDhhmmss>-…` folders and their `.tmp-` forms: the only directories this code ever removes. */
const FOLDER = /^(?:\.tmp-)?\d{14}-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+$/;

export interface PublishedState {
  readonly versions: Readonly<Record<string, string>>;
  readonly processed: readonly string[];
  readonly missing: readonly string[];
}

/** Writes a file whole, fsynced, under a temp name renamed into place. */
async function writeFileAtomically(file: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Makes a directory's entries (renames into it) durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const lines = (text: string | undefined): string[] => (text ?? '').split('\n').filter((line) => line !== '');

/**
 * A file's identity across its life: the name without the compression
 * extension, as `X.wA.<seq>.log` becomes `X.wA.<seq>.log.gz` when compressed
 * (the same records); the 2013 `…v2.log[.<upload id>].lzma` likewise.
 */
export function fileIdentity(relative: string): string {
  return relative.replace(/\.(?:gz|zst|xz|lzma)$/, '');
}

/** A file a worker is still appending to (`<stem>.<writerId>.log`, no sequence): it is read once rotated. */
export function isUnfinished(relative: string): boolean {
  const name = parseStorageFileName(path.posix.basename(relative));
  return name !== undefined && name.extension === 'log' && name.seq === undefined;
}

async function readVersions(outDir: string): Promise<Record<string, string>> {
  const text = await readText(path.join(outDir, VERSIONS));
  if (text === undefined) return {};
  const parsed = JSON.parse(text) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SyntaxError(`${path.join(outDir, VERSIONS)} is not an object`);
  return parsed as Record<string, string>;
}

async function writeFileLists(outDir: string, processed: readonly string[], missing: readonly string[]): Promise<void> {
  await writeFileAtomically(path.join(outDir, PROCESSED), processed.map((file) => `${file}\n`).join(''));
  await writeFileAtomically(path.join(outDir, MISSING), missing.map((file) => `${file}\n`).join(''));
}

interface Journal {
  readonly stamp: string;
  readonly processed: readonly string[];
  readonly missing: readonly string[];
}

/** The published state, after finishing (or dropping) the commit of a run that died in it. */
export async function readPublishedState(outDir: string): Promise<PublishedState> {
  const versions = await readVersions(outDir);
  const journalText = await readText(path.join(outDir, JOURNAL));
  if (journalText !== undefined) {
    const journal = JSON.parse(journalText) as Journal;
    // Its versions.json was written when it names a folder of that run.
    if (Object.values(versions).some((folder) => folder.startsWith(`${journal.stamp}-`))) await writeFileLists(outDir, journal.processed, journal.missing);
    await rm(path.join(outDir, JOURNAL), { force: true });
  }
  return { versions, processed: lines(await readText(path.join(outDir, PROCESSED))), missing: lines(await readText(path.join(outDir, MISSING))) };
}

/** Publishes a run: see the module comment. `stamp` prefixes the run's folders. */
export async function commitPublishedState(outDir: string, previous: PublishedState, next: PublishedState, stamp: string): Promise<void> {
  const changed = Object.entries(next.versions).some(([key, folder]) => previous.versions[key] !== folder);
  if (changed) {
    await writeFileAtomically(path.join(outDir, JOURNAL), JSON.stringify({ stamp, processed: next.processed, missing: next.missing } satisfies Journal));
    await writeFileAtomically(path.join(outDir, VERSIONS), JSON.stringify(next.versions));
  }
  await writeFileLists(outDir, next.processed, next.missing);
  if (changed) await rm(path.join(outDir, JOURNAL), { force: true });
  await syncDir(outDir);
  await removeUnreferencedFolders(outDir, [previous.versions, next.versions]);
}

/** Removes folders (and temp folders of runs that died) that no versions.json in `keep` names. */
async function removeUnreferencedFolders(outDir: string, keep: readonly Readonly<Record<string, string>>[]): Promise<void> {
  const referenced = new Set(keep.flatMap((versions) => Object.values(versions)));
  for (const entry of await readdir(outDir, { withFileTypes: true })) {
    if (entry.isDirectory() && FOLDER.test(entry.name) && !referenced.has(entry.name)) await rm(path.join(outDir, entry.name), { recursive: true, force: true });
  }
}

/** A run's folder stamp: YYYYMMDDhhmmss (UTC) of `now`, one second later while a folder of that stamp exists. */
export async function folderStamp(outDir: string, now: Date): Promise<string> {
  const names = (await readdir(outDir)).map((name) => name.replace(/^\.tmp-/, ''));
  for (let ms = now.getTime(); ; ms += 1000) {
    const stamp = new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
    if (!names.some((name) => name.startsWith(`${stamp}-`))) return stamp;
  }
}
