import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock.js';
import { DefinitionError, PingError } from '../errors.js';
import { parseHistogramDefinitions } from '../histograms/definitions.js';
import type { HistogramDefinitions } from '../histograms/types.js';
import { silentLogger, type Logger } from '../logger.js';
import type { RevisionCacheMetrics, RevisionFetchResult, RevisionLookupTier } from './cache-metrics.js';
import { estimateDefinitionsBytes } from './definitions-size.js';
import { RevisionDiskCache, type TrimResult } from './disk-cache.js';
import { fetchRawFile, TooLargeError, type RawFileAnswer } from './hg-fetch.js';
import { parseRevisionUrl, revisionKey, type RevisionRef } from './revision-url.js';
import type { RevisionSource } from './types.js';

const HISTOGRAMS_PATH = 'toolkit/components/telemetry/Histograms.json';
// A revision in use in memory marks its disk file used this often, so the
// disk's LRU order sees it too (memory hits need no disk I/O otherwise).
const TOUCH_INTERVAL_MS = 60_000;

export interface RevisionCacheOptions {
  /** Mercurial server, e.g. `https://hg.mozilla.org`. */
  hgServer: string;
  /** Disk cache root: `<cacheDir>/<repo>/<rev>/Histograms.json`. */
  cacheDir: string;
  /**
   * Bound of the compiled revisions in memory, by their estimated heap
   * (definitions-size.ts; default 96 MiB: 22–30 revisions of 2013, 2.8–3.9
   * MiB each measured; more would not leave a 256 MiB worker heap room for its batches).
   */
  memoryMaxBytes?: number;
  /** A count bound on top (default: none). */
  memoryEntries?: number;
  /** Bound of the disk cache's total size, least recently used evicted first (default: none). */
  diskMaxBytes?: number;
  /** Counted lookups, fetches and evictions (the workers' Prometheus counters). */
  metrics?: RevisionCacheMetrics;
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

interface InMemory {
  readonly definitions: HistogramDefinitions;
  readonly bytes: number;
  touchedAtMs: number;
}

interface NotFound {
  readonly expiresAtMs: number;
  readonly message: string;
}

/**
 * RevisionSource backed by memory (LRU of compiled definitions), then disk,
 * then the Mercurial server (SPEC 4.3). Concurrent gets of one revision
 * share one load. A 404 or invalid file is a permanent missing_revision,
 * remembered for notFoundTtlMs; network errors, timeouts and 5xx are
 * RevisionUnavailableError and never remembered, so the retry can succeed.
 */
export class RevisionCache implements RevisionSource {
  private readonly hgServer: string;
  private readonly disk: RevisionDiskCache;
  private readonly fetchTimeoutMs: number;
  private readonly notFoundTtlMs: number;
  private readonly maxFileBytes: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: RevisionCacheMetrics | undefined;
  private readonly memory: LRUCache<string, InMemory>;
  private readonly memoryMaxBytes: number;
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
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 10_000;
    this.notFoundTtlMs = options.notFoundTtlMs ?? 10 * 60_000;
    this.maxFileBytes = options.maxFileBytes ?? 64 * 1024 * 1024;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.metrics = options.metrics;
    this.memoryMaxBytes = options.memoryMaxBytes ?? 96 * 1024 * 1024;
    this.memory = new LRUCache<string, InMemory>({
      maxSize: this.memoryMaxBytes,
      sizeCalculation: (entry) => Math.max(1, entry.bytes),
      ...(options.memoryEntries === undefined ? {} : { max: options.memoryEntries }),
    });
    this.disk = new RevisionDiskCache({
      dir: options.cacheDir,
      maxBytes: options.diskMaxBytes,
      clock: this.clock,
      logger: this.logger,
      onEvicted: (files, bytes) => this.metrics?.diskEvicted(files, bytes),
    });
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
      this.lookedUp('memory');
      const nowMs = this.clock.nowMs();
      if (nowMs - cached.touchedAtMs >= TOUCH_INTERVAL_MS) {
        cached.touchedAtMs = nowMs;
        void this.disk.touch(ref);
      }
      return cached.definitions;
    }
    const notFound = this.notFound.get(key);
    if (notFound !== undefined) {
      if (this.clock.nowMs() < notFound.expiresAtMs) {
        this.stats.notFoundHits += 1;
        this.lookedUp('not_found');
        throw new PingError('missing_revision', notFound.message);
      }
      this.notFound.delete(key);
    }
    let pending = this.inflight.get(key);
    if (pending === undefined) {
      pending = this.load(ref, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    } else {
      this.lookedUp('inflight');
    }
    return pending;
  }

  /**
   * Evicts least recently used files from the disk cache down to
   * diskMaxBytes (done after each save too); for start-up, when other
   * processes may have filled the directory. Never rejects.
   */
  trimDisk(): Promise<TrimResult> {
    return this.disk.trim();
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
    const text = await this.disk.read(ref, revisionKey(ref));
    if (text !== undefined) {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        // Damaged since it was saved: the server has it.
      }
    }
    const fetched = await this.fetchText(this.fileUrl(ref), revisionKey(ref));
    this.metrics?.fetched('ok');
    return JSON.parse(fetched) as unknown;
  }

  private fileUrl(ref: RevisionRef): string {
    return `${this.hgServer}/${ref.repo}/raw-file/${ref.revision}/${HISTOGRAMS_PATH}`;
  }

  private async load(ref: RevisionRef, key: string): Promise<HistogramDefinitions> {
    const fromDisk = await this.readDisk(ref, key);
    if (fromDisk !== undefined) {
      this.stats.diskHits += 1;
      this.lookedUp('disk');
      this.remember(key, fromDisk);
      return fromDisk;
    }
    this.lookedUp('fetch');
    const url = this.fileUrl(ref);
    const text = await this.fetchText(url, key);
    let definitions: HistogramDefinitions;
    try {
      definitions = parseHistogramDefinitions(text);
    } catch (error) {
      if (error instanceof DefinitionError) this.rememberNotFound(key, `invalid Histograms.json from ${url}: ${error.message}`, 'invalid');
      throw error;
    }
    this.metrics?.fetched('ok');
    await this.disk.save(ref, text);
    this.remember(key, definitions);
    this.logger.info({ revision: key, histograms: definitions.size }, 'fetched Histograms.json');
    return definitions;
  }

  private remember(key: string, definitions: HistogramDefinitions): void {
    const bytes = estimateDefinitionsBytes(definitions);
    // lru-cache would refuse it silently: every ping of it would compile again.
    if (bytes > this.memoryMaxBytes) {
      this.logger.warn({ revision: key, bytes, memoryMaxBytes: this.memoryMaxBytes }, 'compiled revision is larger than the whole memory cache; not kept in memory');
      return;
    }
    this.memory.set(key, { definitions, bytes, touchedAtMs: this.clock.nowMs() });
  }

  /** The compiled cached file, or undefined when absent, unreadable or invalid (then refetched). */
  private async readDisk(ref: RevisionRef, key: string): Promise<HistogramDefinitions | undefined> {
    const text = await this.disk.read(ref, key);
    if (text === undefined) return undefined;
    try {
      return parseHistogramDefinitions(text);
    } catch (error) {
      if (!(error instanceof DefinitionError)) throw error;
      this.logger.warn({ revision: key, file: this.disk.fileOf(ref), reason: error.message }, 'ignoring invalid cached Histograms.json');
      return undefined;
    }
  }

  private lookedUp(tier: RevisionLookupTier): void {
    this.metrics?.lookup(tier);
  }

  /** The body of a 2xx answer; throws PingError on 404/410 or a too large file, RevisionUnavailableError on anything transient. */
  private async fetchText(url: string, key: string): Promise<string> {
    this.stats.fetches += 1;
    let answer: RawFileAnswer;
    try {
      answer = await fetchRawFile(url, { timeoutMs: this.fetchTimeoutMs, maxBytes: this.maxFileBytes });
    } catch (error) {
      if (error instanceof TooLargeError) this.rememberNotFound(key, `invalid Histograms.json from ${url}: ${error.message}`, 'invalid');
      this.stats.unavailable += 1;
      this.metrics?.fetched('unavailable');
      const message = error instanceof Error ? error.message : String(error);
      this.logger.warn({ revision: key, reason: message }, 'revision server unavailable');
      throw error;
    }
    if (answer.kind === 'gone') this.rememberNotFound(key, `unknown revision: ${url} answered HTTP ${answer.status}`, 'not_found');
    return answer.text;
  }

  private rememberNotFound(key: string, message: string, result: Exclude<RevisionFetchResult, 'ok' | 'unavailable'>): never {
    this.stats.notFound += 1;
    this.metrics?.fetched(result);
    this.notFound.set(key, { expiresAtMs: this.clock.nowMs() + this.notFoundTtlMs, message });
    this.logger.warn({ revision: key, reason: message }, 'revision not available: missing_revision');
    throw new PingError('missing_revision', message);
  }
}
