import { randomUUID } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, rmdir, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { RevisionRef } from './revision-url.js';

const CACHE_FILE_NAME = 'Histograms.json';
const TEMP_FILE = /^\.Histograms\.json\.\d+\.[0-9a-f-]{36}\.tmp$/;
// Repo paths have at most 8 segments (revision-url.ts), then the revision directory.
const MAX_DEPTH = 9;
// A temp file this old belongs to a process that died while saving.
const STALE_TEMP_MS = 60 * 60_000;

export interface DiskCacheOptions {
  /** Root: `<dir>/<repo>/<rev>/Histograms.json`. */
  dir: string;
  /** Bound of the files' total size, kept by evicting the least recently used; undefined: no bound. */
  maxBytes?: number | undefined;
  clock: Clock;
  logger: Logger;
  /** Called after a trim that evicted something. */
  onEvicted?: ((files: number, bytes: number) => void) | undefined;
}

/** What a trim found and removed. */
export interface TrimResult {
  /** Files counted (cached files and temp files of saves in progress). */
  readonly files: number;
  /** Their total size before the trim. */
  readonly bytes: number;
  readonly evictedFiles: number;
  readonly evictedBytes: number;
}

interface Entry {
  readonly file: string;
  readonly bytes: number;
  readonly usedAtMs: number;
  readonly temp: boolean;
}

const isMissing = (error: unknown): boolean => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');

/**
 * The revision files on disk, shared by every worker process (and the CLI)
 * using the directory. Recency is the file's mtime: set at save and on each
 * use (touch), so every process's uses count without an index to lock. Saves
 * are a temp file renamed into place; eviction deletes files whole; a file
 * that vanishes (another process evicted it) is a miss, never an error.
 */
export class RevisionDiskCache {
  private readonly dir: string;
  private readonly maxBytes: number | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly onEvicted: ((files: number, bytes: number) => void) | undefined;
  private running: Promise<TrimResult> | undefined;
  private queued: Promise<TrimResult> | undefined;

  constructor(options: DiskCacheOptions) {
    this.dir = path.resolve(options.dir);
    this.maxBytes = options.maxBytes;
    this.clock = options.clock;
    this.logger = options.logger;
    this.onEvicted = options.onEvicted;
  }

  fileOf(ref: RevisionRef): string {
    return path.join(this.dir, ...ref.repo.split('/'), ref.revision, CACHE_FILE_NAME);
  }

  /** The cached text, or undefined when absent or unreadable (then refetched); a hit counts as a use. */
  async read(ref: RevisionRef, key: string): Promise<string | undefined> {
    const file = this.fileOf(ref);
    try {
      const text = await readFile(file, 'utf8');
      await this.touch(ref);
      return text;
    } catch (error) {
      if (!isMissing(error)) this.logger.warn({ revision: key, file, err: error }, 'cannot read cached Histograms.json; refetching');
      return undefined;
    }
  }

  /** Marks the file used now (its mtime); never rejects: a file gone meanwhile needs no mark. */
  async touch(ref: RevisionRef): Promise<void> {
    const now = new Date(this.clock.nowMs());
    await utimes(this.fileOf(ref), now, now).catch(() => undefined);
  }

  /**
   * Atomic save: a unique temp file in the target directory, fsynced, then
   * renamed, so readers (other workers too) see no file or a whole one. A
   * failure only costs a refetch later: the definitions are already in hand.
   * Then trims, in the background, when bounded.
   */
  async save(ref: RevisionRef, text: string): Promise<void> {
    const file = this.fileOf(ref);
    try {
      await this.writeAtomically(file, text);
    } catch (error) {
      if (!isMissing(error)) {
        this.logger.warn({ file, err: error }, 'cannot save Histograms.json to the disk cache');
        return;
      }
      // Another process's eviction removed the revision directory between our mkdir and open: once more.
      await this.writeAtomically(file, text).catch((again: unknown) => this.logger.warn({ file, err: again }, 'cannot save Histograms.json to the disk cache'));
    }
    if (this.maxBytes !== undefined) void this.trim();
  }

  private async writeAtomically(file: string, text: string): Promise<void> {
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${CACHE_FILE_NAME}.${process.pid}.${randomUUID()}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      const handle = await open(temp, 'wx');
      try {
        await handle.writeFile(text, 'utf8');
        const now = new Date(this.clock.nowMs());
        await handle.utimes(now, now);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Evicts least recently used files until the total is within maxBytes
   * (no-op without a bound), and temp files that dying processes left;
   * never rejects. Trims of one process do not overlap: one asked for during
   * another runs once after it (that one may have scanned before a save).
   * Processes that trim at once delete from the same oldest end, so they agree.
   */
  trim(): Promise<TrimResult> {
    if (this.running === undefined) {
      this.running = this.trimOnce()
        .catch((error: unknown) => {
          this.logger.warn({ dir: this.dir, err: error }, 'cannot trim the revision disk cache');
          return { files: 0, bytes: 0, evictedFiles: 0, evictedBytes: 0 };
        })
        .finally(() => {
          this.running = undefined;
        });
      return this.running;
    }
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.trim();
    });
    return this.queued;
  }

  private async trimOnce(): Promise<TrimResult> {
    const { maxBytes } = this;
    if (maxBytes === undefined) return { files: 0, bytes: 0, evictedFiles: 0, evictedBytes: 0 };
    const entries: Entry[] = [];
    await this.scan(this.dir, 0, entries);
    const bytes = entries.reduce((sum, entry) => sum + entry.bytes, 0);
    const nowMs = this.clock.nowMs();
    // A fresh temp file is another save in progress: counted, left to finish.
    const stale = entries.filter((entry) => entry.temp && nowMs - entry.usedAtMs > STALE_TEMP_MS);
    const oldestFirst = entries.filter((entry) => !entry.temp).sort((a, b) => a.usedAtMs - b.usedAtMs);
    let total = bytes;
    let evictedFiles = 0;
    for (const entry of stale) {
      await rm(entry.file, { force: true });
      total -= entry.bytes;
      evictedFiles += 1;
    }
    for (const entry of oldestFirst) {
      if (total <= maxBytes) break;
      await rm(entry.file, { force: true });
      // The revision directory goes too once empty (a save that refills it meanwhile keeps it: fine).
      await rmdir(path.dirname(entry.file)).catch(() => undefined);
      total -= entry.bytes;
      evictedFiles += 1;
    }
    if (evictedFiles > 0) {
      this.onEvicted?.(evictedFiles, bytes - total);
      this.logger.info({ dir: this.dir, evictedFiles, evictedBytes: bytes - total, bytes: total, maxBytes }, 'evicted least recently used revisions from the disk cache');
    }
    return { files: entries.length, bytes, evictedFiles, evictedBytes: bytes - total };
  }

  /** Cache and temp files under dir; directories and files that vanish meanwhile are skipped. */
  private async scan(dir: string, depth: number, into: Entry[]): Promise<void> {
    let children: Dirent[];
    try {
      children = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    await Promise.all(
      children.map(async (child) => {
        const childPath = path.join(dir, child.name);
        if (child.isDirectory()) {
          if (depth < MAX_DEPTH) await this.scan(childPath, depth + 1, into);
          return;
        }
        const temp = TEMP_FILE.test(child.name);
        if (!child.isFile() || (child.name !== CACHE_FILE_NAME && !temp)) return;
        const info = await stat(childPath).catch((error: unknown) => {
          if (isMissing(error)) return undefined;
          throw error;
        });
        if (info !== undefined) into.push({ file: childPath, bytes: info.size, usedAtMs: info.mtimeMs, temp });
      }),
    );
  }
}
