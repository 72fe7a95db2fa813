import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock.js';
import { DefinitionError, PingError, RevisionUnavailableError } from '../errors.js';
import { parseHistogramDefinitions } from '../histograms/definitions.js';
import type { HistogramDefinitions } from '../histograms/types.js';
import { silentLogger, type Logger } from '../logger.js';
import { parseRevisionUrl, revisionKey, type RevisionRef } from './revision-url.js';
import type { RevisionSource } from './types.js';

const HISTOGRAMS_PATH = 'toolkit/components/telemetry/Histograms.json';
const CACHE_FILE_NAME = 'Histograms.json';

export interface RevisionCacheOptions {
  /** Mercurial server, e.g. `https://hg.mozilla.org`. */
  hgServer: string;
  /** Disk cache root: `<cacheDir>/<repo>/<rev>/Histograms.json`. */
  cacheDir: string;
  /** Compiled revisions kept in memory (default 32). */
  memoryEntries?: number;
  /** Whole request, body included (default 10 s). */
  fetchTimeoutMs?: number;
  /** How long a 404 or invalid file is remembered (default 10 min). */
  notFoundTtlMs?: number;
  /** Bound of the remembered not-found revisions, so junk revisions cannot grow memory (default 10,000). */
  notFoundEntries?: number;
  /** A larger answer is refused as invalid (default 64 MiB; real files are under 1 MiB). */
  maxFileBytes?: number;
  clock?: Clock;
  logger?: Logger;
}

/** Monotonic counters for metrics. */
export interface RevisionCacheCounters {
  /** Gets answered from memory. */
  memoryHits: number;
  /** Revisions loaded from the disk cache. */
  diskHits: number;
  /** HTTP requests made to the Mercurial server. */
  fetches: number;
  /** Revisions the server answered 404 (or an invalid file) for. */
  notFound: number;
  /** Gets answered missing_revision from the remembered not-found answers, without a request. */
  notFoundHits: number;
  /** Gets refused because `info.revision` is not a revision URL. */
  invalidUrls: number;
  /** Fetches that failed transiently (network, timeout, 5xx). */
  unavailable: number;
}

interface NotFound {
  readonly expiresAtMs: number;
  readonly message: string;
}

/** The answer was over maxFileBytes: treated like an invalid file. */
class TooLargeError extends Error {}

/**
 * RevisionSource backed by memory (LRU of compiled definitions), then disk,
 * then the Mercurial server (SPEC 4.3). Concurrent gets of one revision
 * share one load. A 404 or invalid file is a permanent missing_revision,
 * remembered for notFoundTtlMs; network errors, timeouts and 5xx are
 * RevisionUnavailableError and never remembered, so the retry can succeed.
 */
export class RevisionCache implements RevisionSource {
  private readonly hgServer: string;
  private readonly cacheDir: string;
  private readonly fetchTimeoutMs: number;
  private readonly notFoundTtlMs: number;
  private readonly maxFileBytes: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly memory: LRUCache<string, HistogramDefinitions>;
  private readonly notFound: LRUCache<string, NotFound>;
  private readonly inflight = new Map<string, Promise<HistogramDefinitions>>();
  private readonly stats: RevisionCacheCounters = {
    memoryHits: 0,
    diskHits: 0,
    fetches: 0,
    notFound: 0,
    notFoundHits: 0,
    invalidUrls: 0,
    unavailable: 0,
  };

  constructor(options: RevisionCacheOptions) {
    if (!/^https?:\/\//.test(options.hgServer) || !URL.canParse(options.hgServer)) {
      throw new TypeError(`hgServer must be an http(s) URL, got "${options.hgServer}"`);
    }
    this.hgServer = options.hgServer.replace(/\/+$/, '');
    this.cacheDir = path.resolve(options.cacheDir);
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 10_000;
    this.notFoundTtlMs = options.notFoundTtlMs ?? 10 * 60_000;
    this.maxFileBytes = options.maxFileBytes ?? 64 * 1024 * 1024;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.memory = new LRUCache({ max: options.memoryEntries ?? 32 });
    this.notFound = new LRUCache({ max: options.notFoundEntries ?? 10_000 });
  }

  get counters(): Readonly<RevisionCacheCounters> {
    return { ...this.stats };
  }

  async get(revisionUrl: string): Promise<HistogramDefinitions> {
    let ref: RevisionRef;
    try {
      ref = parseRevisionUrl(revisionUrl);
    } catch (error) {
      this.stats.invalidUrls += 1;
      throw error;
    }
    const key = revisionKey(ref);
    const cached = this.memory.get(key);
    if (cached !== undefined) {
      this.stats.memoryHits += 1;
      return cached;
    }
    const notFound = this.notFound.get(key);
    if (notFound !== undefined) {
      if (this.clock.nowMs() < notFound.expiresAtMs) {
        this.stats.notFoundHits += 1;
        throw new PingError('missing_revision', notFound.message);
      }
      this.notFound.delete(key);
    }
    let pending = this.inflight.get(key);
    if (pending === undefined) {
      pending = this.load(ref, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /**
   * A revision's Histograms.json as parsed JSON (descriptions and every other
   * field, numbers as written), for those who publish definitions (the
   * MapReduce dashboard job). Loaded as get() loads it, with the same errors;
   * the text comes from the disk cache, or from the server again when the
   * disk cache could not keep it.
   */
  async getSource(revisionUrl: string): Promise<unknown> {
    await this.get(revisionUrl);
    const ref = parseRevisionUrl(revisionUrl);
    const text = await readFile(this.cacheFile(ref), 'utf8').catch(() => undefined);
    if (text !== undefined) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        // Damaged since it was saved: the server has it.
      }
    }
    return JSON.parse(await this.fetchText(this.fileUrl(ref), revisionKey(ref))) as unknown;
  }

  private cacheFile(ref: RevisionRef): string {
    return path.join(this.cacheDir, ...ref.repo.split('/'), ref.revision, CACHE_FILE_NAME);
  }

  private fileUrl(ref: RevisionRef): string {
    return `${this.hgServer}/${ref.repo}/raw-file/${ref.revision}/${HISTOGRAMS_PATH}`;
  }

  private async load(ref: RevisionRef, key: string): Promise<HistogramDefinitions> {
    const file = this.cacheFile(ref);
    const fromDisk = await this.readDisk(file, key);
    if (fromDisk !== undefined) {
      this.stats.diskHits += 1;
      this.memory.set(key, fromDisk);
      return fromDisk;
    }
    const url = this.fileUrl(ref);
    const text = await this.fetchText(url, key);
    let definitions: HistogramDefinitions;
    try {
      definitions = parseHistogramDefinitions(text);
    } catch (error) {
      if (error instanceof DefinitionError) this.rememberNotFound(key, `invalid Histograms.json from ${url}: ${error.message}`);
      throw error;
    }
    await this.saveToDisk(file, text);
    this.memory.set(key, definitions);
    this.logger.info({ revision: key, histograms: definitions.size }, 'fetched Histograms.json');
    return definitions;
  }

  /** The compiled cached file, or undefined when absent, unreadable or invalid (then refetched). */
  private async readDisk(file: string, key: string): Promise<HistogramDefinitions | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.logger.warn({ revision: key, file, err: error }, 'cannot read cached Histograms.json; refetching');
      }
      return undefined;
    }
    try {
      return parseHistogramDefinitions(text);
    } catch (error) {
      if (!(error instanceof DefinitionError)) throw error;
      this.logger.warn({ revision: key, file, reason: error.message }, 'ignoring invalid cached Histograms.json');
      return undefined;
    }
  }

  /** The body of a 2xx answer; throws PingError on 404/410 and RevisionUnavailableError on anything transient. */
  private async fetchText(url: string, key: string): Promise<string> {
    this.stats.fetches += 1;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.fetchTimeoutMs) });
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel();
        this.rememberNotFound(key, `unknown revision: ${url} answered HTTP ${response.status}`);
      }
      if (!response.ok) {
        await response.body?.cancel();
        // 5xx, and also 429/403 and other statuses Mercurial does not use for
        // "no such revision": retrying is safe, filing the ping is not.
        throw new RevisionUnavailableError(`${url} answered HTTP ${response.status}`);
      }
      return await this.readLimited(response);
    } catch (error) {
      if (error instanceof PingError) throw error;
      if (error instanceof TooLargeError) {
        this.rememberNotFound(key, `invalid Histograms.json from ${url}: ${error.message}`);
      }
      this.stats.unavailable += 1;
      const unavailable =
        error instanceof RevisionUnavailableError
          ? error
          : new RevisionUnavailableError(`cannot fetch ${url}: ${this.describe(error)}`, { cause: error });
      this.logger.warn({ revision: key, reason: unavailable.message }, 'revision server unavailable');
      throw unavailable;
    }
  }

  /** Reads the body as UTF-8 text, refusing more than maxFileBytes (never buffers more). */
  private async readLimited(response: Response): Promise<string> {
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (declared > this.maxFileBytes) {
      await response.body?.cancel();
      throw new TooLargeError(`Content-Length ${declared} is over ${this.maxFileBytes} bytes`);
    }
    if (response.body === null) return '';
    const chunks: Uint8Array[] = [];
    let total = 0;
    // undici types the body as ReadableStream<any>; it yields bytes.
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > this.maxFileBytes) {
        await reader.cancel();
        throw new TooLargeError(`body is over ${this.maxFileBytes} bytes`);
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private rememberNotFound(key: string, message: string): never {
    this.stats.notFound += 1;
    this.notFound.set(key, { expiresAtMs: this.clock.nowMs() + this.notFoundTtlMs, message });
    this.logger.warn({ revision: key, reason: message }, 'revision not available: missing_revision');
    throw new PingError('missing_revision', message);
  }

  /**
   * Atomic save: a unique temp file in the target directory, fsynced, then
   * renamed, so readers (other workers too) see no file or a whole one. A
   * failure only costs a refetch later: the definitions are already in hand.
   */
  private async saveToDisk(file: string, text: string): Promise<void> {
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${CACHE_FILE_NAME}.${process.pid}.${randomUUID()}.tmp`);
    try {
      await mkdir(dir, { recursive: true });
      const handle = await open(temp, 'wx');
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (error) {
      this.logger.warn({ file, err: error }, 'cannot save Histograms.json to the disk cache');
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }

  private describe(error: unknown): string {
    if (error instanceof Error && error.name === 'TimeoutError') return `timed out after ${this.fetchTimeoutMs} ms`;
    if (!(error instanceof Error)) return String(error);
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
}
