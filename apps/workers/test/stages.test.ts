import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { contentDigest, convertDecoded, type ConversionContext } from '@telemetry/shared/conversion/submission';
import { loadDimensionSchema } from '@telemetry/shared/dimensions/schema';
import { PingError, RevisionUnavailableError, StorageWriteError, TransientError } from '@telemetry/shared/errors';
import { silentLogger } from '@telemetry/shared/logger';
import type { RevisionSource } from '@telemetry/shared/revisions/types';
import type { ErrorEntry } from '@telemetry/shared/storage/error-store';
import type { ClaimResult, DedupStore } from '../src/dedup/dedup-store.js';
import { claimStage } from '../src/stages/claim.js';
import type { ConvertDecoded } from '../src/stages/convert.js';
import { decodeStage, invalidOutcome, rawKey } from '../src/stages/decode.js';
import { processBatch, type BatchDependencies, type SuspectJournal } from '../src/stages/process-batch.js';
import { decodedBytes, unitKey, type Unit } from '../src/stages/unit.js';

const MAX_UNCOMPRESSED = 1 << 20;
const RECEIVED = Date.UTC(2013, 8, 10, 6, 38, 12);
const DOC_ID = 'c0ffee00-1111-2222-3333-444455556666';
const OWNER = 'writer-a';

const pingText = (reason: string): string =>
  JSON.stringify({ ver: 2, info: { reason, appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812' } });
const IDLE_DAILY = pingText('idle-daily');
const SAVED_SESSION = pingText('saved-session');

/**
 * The claim semantics of RedisDedupStore's Lua script, in a Map:
 * absent → claimed, 'done' → done, own claim → claimed (renewed), another owner's → busy.
 */
class MemoryDedupStore implements DedupStore {
  readonly values = new Map<string, string>();
  readonly calls: { op: 'claim' | 'markDone' | 'release'; keys: string[]; arg: string | number }[] = [];
  failMarkDone = false;

  claim(keys: readonly Buffer[], owner: string, leaseMs: number): Promise<ClaimResult[]> {
    this.calls.push({ op: 'claim', keys: keys.map(hex), arg: leaseMs });
    return Promise.resolve(
      keys.map((key): ClaimResult => {
        const value = this.values.get(hex(key));
        if (value === undefined) {
          this.values.set(hex(key), `claim:${owner}`);
          return 'claimed';
        }
        if (value === 'done') return 'done';
        if (value === `claim:${owner}`) return 'claimed';
        return 'busy';
      }),
    );
  }

  markDone(keys: readonly Buffer[], ttlMs: number): Promise<void> {
    this.calls.push({ op: 'markDone', keys: keys.map(hex), arg: ttlMs });
    if (this.failMarkDone) return Promise.reject(new Error('Redis went away'));
    for (const key of keys) this.values.set(hex(key), 'done');
    return Promise.resolve();
  }

  release(keys: readonly Buffer[], owner: string): Promise<void> {
    this.calls.push({ op: 'release', keys: keys.map(hex), arg: owner });
    for (const key of keys) if (this.values.get(hex(key)) === `claim:${owner}`) this.values.delete(hex(key));
    return Promise.resolve();
  }
}

const hex = (key: Buffer): string => key.toString('hex');

/** Storage and error store as arrays; `storageFailures` appends fail like a full disk. */
class MemoryTargets {
  readonly lines: { dir: string; fileStem: string; line: string }[] = [];
  readonly entries: ErrorEntry[] = [];
  storageFailures = 0;
  readonly storage = {
    appendBatch: (records: readonly { dir: string; fileStem: string; line: string }[]): Promise<void> => {
      if (this.storageFailures > 0) {
        this.storageFailures -= 1;
        return Promise.reject(new StorageWriteError('ENOSPC: no space left on device, write'));
      }
      this.lines.push(...records);
      return Promise.resolve();
    },
  };
  readonly errorStore = {
    appendBatch: (entries: readonly ErrorEntry[]): Promise<void> => {
      this.entries.push(...entries);
      return Promise.resolve();
    },
  };
}

class RecordingJournal implements SuspectJournal {
  readonly events: string[] = [];
  enter(id: string): void {
    this.events.push(`enter ${id}`);
  }
  leave(id: string): void {
    this.events.push(`leave ${id}`);
  }
}

/** Conversion needs no revision for ver 2 pings: a lookup is a bug in the test. */
const noRevisions: RevisionSource = {
  get: (url) => Promise.reject(new Error(`unexpected revision lookup ${url}`)),
};

let context: ConversionContext;
beforeAll(async () => {
  context = { revisions: noRevisions, schema: await loadDimensionSchema(DEFAULT_SCHEMA_FILE), maxUncompressedBytes: MAX_UNCOMPRESSED };
});

function submission(body: Buffer | string, overrides: Partial<Submission> = {}): Submission {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return { docId: DOC_ID, path: DOC_ID, receivedAtMs: RECEIVED, clientHeaders: {}, body: bytes, bodyBytes: bytes.length, ...overrides };
}

/** A unit as the persist consumer makes it (`pending`: processBatch decodes it), or already decoded. */
function unit(sub: Submission, options: { attempts?: number; suspectId?: string; decoded?: boolean } = {}): Unit {
  return {
    submission: sub,
    attempts: options.attempts ?? 0,
    suspectId: options.suspectId,
    decoded: options.decoded === true ? decodeStage(sub, MAX_UNCOMPRESSED) : { kind: 'pending' },
  };
}

/** The dedup key (hex) the decode stage gives a submission. */
function keyFor(sub: Submission): string {
  const outcome = decodeStage(sub, MAX_UNCOMPRESSED);
  if (outcome.kind === 'deadLetter' || outcome.kind === 'pending' || outcome.key === undefined) throw new Error('no key');
  return hex(outcome.key);
}

interface Harness {
  readonly dedup: MemoryDedupStore;
  readonly targets: MemoryTargets;
  readonly journal: RecordingJournal;
  readonly inFlightKeys: Set<string>;
  /** Calls of the convert function. */
  convertCalls: number;
  deps(overrides?: Partial<BatchDependencies>): BatchDependencies;
}

function harness(convert?: ConvertDecoded): Harness {
  const dedup = new MemoryDedupStore();
  const targets = new MemoryTargets();
  const journal = new RecordingJournal();
  const inFlightKeys = new Set<string>();
  const h: Harness = {
    dedup,
    targets,
    journal,
    inFlightKeys,
    convertCalls: 0,
    deps: (overrides = {}) => ({
      dedup,
      owner: OWNER,
      claimLeaseMs: 30_000,
      inFlightKeys,
      dedupTtlMs: 86_400_000,
      maxAttempts: 3,
      maxUncompressedBytes: MAX_UNCOMPRESSED,
      maxDecodedBytes: 1 << 20,
      logger: silentLogger,
      journal,
      storage: targets.storage,
      errorStore: targets.errorStore,
      convert: (sub, bytes) => {
        h.convertCalls += 1;
        return convert ? convert(sub, bytes) : convertDecoded(sub, bytes, context);
      },
      ...overrides,
    }),
  };
  return h;
}

function keyOf(u: Unit): string {
  const key = unitKey(u);
  if (key === undefined) throw new Error(`unit (${u.decoded.kind}) has no key`);
  return hex(key);
}

describe('processBatch: deduplication', () => {
  it('decodes, stores a converted ping and marks its key done', async () => {
    const h = harness();
    const u = unit(submission(gzipSync(IDLE_DAILY)));
    const result = await processBatch([u], h.deps());
    expect(result.decisions).toEqual([{ kind: 'stored' }]);
    expect(h.targets.lines).toEqual([{ dir: 'idle_daily/Firefox/release/23.0.1', fileStem: '20130814063812.20130910.v2', line: `${DOC_ID}\t${IDLE_DAILY}` }]);
    expect(result.stored.map((r) => r.docId)).toEqual([DOC_ID]);
    expect(result.filed).toEqual([]);
    expect(h.dedup.values.get(keyOf(u))).toBe('done');
    expect(h.dedup.calls.find((c) => c.op === 'markDone')?.arg).toBe(86_400_000);
    expect(h.dedup.calls.find((c) => c.op === 'claim')?.arg).toBe(30_000);
    expect(h.inFlightKeys.size).toBe(0);
    // Converted once: the decoded bytes are dropped from the unit.
    expect(u.decoded.kind).toBe('converted');
    expect(decodedBytes(u)).toBe(0);
  });

  it('two units with the same key in one batch: the first is written, the second holds', async () => {
    const h = harness();
    const first = unit(submission(IDLE_DAILY));
    const second = unit(submission(gzipSync(IDLE_DAILY)));
    const result = await processBatch([first, second], h.deps());
    expect(keyOf(first)).toBe(keyOf(second));
    expect(result.decisions).toEqual([{ kind: 'stored' }, { kind: 'hold' }]);
    expect(h.targets.lines).toHaveLength(1);
    expect(h.convertCalls).toBe(1);
    expect(h.dedup.calls.filter((c) => c.op === 'claim').flatMap((c) => c.keys)).toEqual([keyOf(first)]);
    // Checked again once the first is done: a duplicate.
    const again = await processBatch([second], h.deps());
    expect(again.decisions).toEqual([{ kind: 'duplicate' }]);
    expect(h.targets.lines).toHaveLength(1);
    expect(h.convertCalls).toBe(1);
  });

  it('a key already done is a duplicate, neither converted nor written', async () => {
    const h = harness();
    const sub = submission(IDLE_DAILY);
    h.dedup.values.set(keyFor(sub), 'done');
    const result = await processBatch([unit(sub)], h.deps());
    expect(result.decisions).toEqual([{ kind: 'duplicate' }]);
    expect(h.convertCalls).toBe(0);
    expect(h.targets.lines).toEqual([]);
    expect(h.dedup.values.get(keyFor(sub))).toBe('done');
    expect(h.inFlightKeys.size).toBe(0);
  });

  it('a key claimed by another owner holds, and its claim is left alone', async () => {
    const h = harness();
    const sub = submission(IDLE_DAILY);
    h.dedup.values.set(keyFor(sub), 'claim:writer-b');
    const result = await processBatch([unit(sub)], h.deps());
    expect(result.decisions).toEqual([{ kind: 'hold' }]);
    expect(h.convertCalls).toBe(0);
    expect(h.dedup.values.get(keyFor(sub))).toBe('claim:writer-b');
    expect(h.dedup.calls.filter((c) => c.op === 'release').flatMap((c) => c.keys)).toEqual([]);
    expect(h.inFlightKeys.size).toBe(0);
  });

  it('a key this owner already claims (an earlier attempt) is claimed again and written', async () => {
    const h = harness();
    const sub = submission(IDLE_DAILY);
    h.dedup.values.set(keyFor(sub), `claim:${OWNER}`);
    const result = await processBatch([unit(sub)], h.deps());
    expect(result.decisions).toEqual([{ kind: 'stored' }]);
    expect(h.dedup.values.get(keyFor(sub))).toBe('done');
  });

  it('a key held by a batch still in flight in this worker holds, without asking the store', async () => {
    const h = harness();
    const sub = submission(IDLE_DAILY);
    h.inFlightKeys.add(keyFor(sub));
    const result = await processBatch([unit(sub)], h.deps());
    expect(result.decisions).toEqual([{ kind: 'hold' }]);
    expect(h.convertCalls).toBe(0);
    expect(h.dedup.values.has(keyFor(sub))).toBe(false);
    expect(h.dedup.calls.filter((c) => c.op === 'claim').flatMap((c) => c.keys)).toEqual([]);
    // Not this batch's key: left for the batch that holds it.
    expect(h.inFlightKeys.has(keyFor(sub))).toBe(true);
  });

  it('two different documents with the same docId are both stored', async () => {
    const h = harness();
    const idle = unit(submission(gzipSync(IDLE_DAILY)));
    const saved = unit(submission(gzipSync(SAVED_SESSION)));
    const result = await processBatch([idle, saved], h.deps());
    expect(keyOf(idle)).not.toBe(keyOf(saved));
    expect(result.decisions).toEqual([{ kind: 'stored' }, { kind: 'stored' }]);
    expect(h.targets.lines.map((l) => l.dir)).toEqual(['idle_daily/Firefox/release/23.0.1', 'saved_session/Firefox/release/23.0.1']);
    expect(h.targets.lines.every((l) => l.line.startsWith(`${DOC_ID}\t`))).toBe(true);
  });

  it('the same document compressed differently has one key: every later copy is a duplicate', async () => {
    const fast = gzipSync(IDLE_DAILY, { level: 1 });
    const otherMtime = Buffer.from(fast);
    otherMtime.writeUInt32LE(0x5229f1d4, 4); // the gzip header's MTIME
    const best = gzipSync(IDLE_DAILY, { level: 9, memLevel: 1 });
    const copies = [fast, otherMtime, best, Buffer.from(IDLE_DAILY)];
    expect(new Set(copies.map((c) => c.toString('hex'))).size).toBe(4);
    const subs = copies.map((body) => submission(body, { contentEncoding: body[0] === 0x1f ? 'gzip' : undefined }));
    expect(new Set(subs.map(keyFor))).toEqual(new Set([hex(contentDigest(DOC_ID, Buffer.from(IDLE_DAILY)))]));

    const h = harness();
    const decisions = [];
    for (const sub of subs) decisions.push(...(await processBatch([unit(sub)], h.deps())).decisions);
    expect(decisions).toEqual([{ kind: 'stored' }, { kind: 'duplicate' }, { kind: 'duplicate' }, { kind: 'duplicate' }]);
    expect(h.targets.lines).toHaveLength(1);
    expect(h.convertCalls).toBe(1);
  });

  it('a copy filed as bad is keyed by its raw body: its redelivery is a duplicate', async () => {
    const h = harness();
    const bad = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef]);
    const first = await processBatch([unit(submission(bad))], h.deps());
    expect(first.decisions).toEqual([{ kind: 'filed' }]);
    expect(h.targets.entries.map((e) => e.type)).toEqual(['corrupted_data']);
    expect(h.dedup.values.get(hex(rawKey(submission(bad))))).toBe('done');
    const redelivered = await processBatch([unit(submission(bad))], h.deps());
    expect(redelivered.decisions).toEqual([{ kind: 'duplicate' }]);
    expect(h.targets.entries).toHaveLength(1);
  });

  it('metadata not ours is filed every time (no key, no claim)', async () => {
    const h = harness();
    const sub = submission(IDLE_DAILY, { docId: '' });
    const invalid = (): Unit => ({ submission: sub, attempts: 0, suspectId: undefined, decoded: invalidOutcome(sub, 'submission has no docId') });
    const result = await processBatch([invalid(), invalid()], h.deps());
    expect(result.decisions).toEqual([{ kind: 'filed' }, { kind: 'filed' }]);
    expect(h.targets.entries.map((e) => [e.type, e.docId, e.message])).toEqual([
      ['invalid_path', `unknown-${RECEIVED}`, 'submission has no docId'],
      ['invalid_path', `unknown-${RECEIVED}`, 'submission has no docId'],
    ]);
    expect(h.dedup.calls.flatMap((c) => c.keys)).toEqual([]);
    expect(h.convertCalls).toBe(0);
  });

  it('a pending unit with an invalid docId is filed as invalid_path by the decode stage, not deduplicated', async () => {
    const h = harness();
    const u = unit(submission(IDLE_DAILY, { docId: 'not/a/doc/id' }));
    const result = await processBatch([u, unit(submission(IDLE_DAILY, { docId: 'not/a/doc/id' }))], h.deps());
    expect(result.decisions).toEqual([{ kind: 'filed' }, { kind: 'filed' }]);
    expect(h.targets.entries.map((e) => [e.type, e.docId])).toEqual([
      ['invalid_path', 'not_a_doc_id'],
      ['invalid_path', 'not_a_doc_id'],
    ]);
    expect(unitKey(u)).toBeUndefined();
    expect(h.dedup.calls.flatMap((c) => c.keys)).toEqual([]);
  });
});

describe('processBatch: decoded byte budget', () => {
  const size = Buffer.byteLength(IDLE_DAILY);
  // Three different documents of the same decoded size.
  const docs = ['doc-a', 'doc-b', 'doc-c'].map((docId) => submission(gzipSync(IDLE_DAILY), { docId }));

  it('defers the units after the budget is reached; they keep their place and go in the next batch', async () => {
    const h = harness();
    const units = docs.map((sub) => unit(sub));
    const result = await processBatch(units, h.deps({ maxDecodedBytes: 2 * size }));
    expect(result.decisions).toEqual([{ kind: 'stored' }, { kind: 'stored' }, { kind: 'defer' }]);
    expect(h.targets.lines.map((l) => l.line.split('\t')[0])).toEqual(['doc-a', 'doc-b']);
    // Not decoded, not claimed, not converted.
    expect(units[2]?.decoded.kind).toBe('pending');
    expect(h.dedup.calls.filter((c) => c.op === 'claim').flatMap((c) => c.keys)).toHaveLength(2);
    expect(h.convertCalls).toBe(2);
    expect(h.inFlightKeys.size).toBe(0);

    const next = await processBatch([units[2]!], h.deps({ maxDecodedBytes: 2 * size }));
    expect(next.decisions).toEqual([{ kind: 'stored' }]);
    expect(h.targets.lines.map((l) => l.line.split('\t')[0])).toEqual(['doc-a', 'doc-b', 'doc-c']);
  });

  it('a unit that would pass the budget is deferred, already decoded', async () => {
    const h = harness();
    const units = docs.map((sub) => unit(sub));
    const result = await processBatch(units, h.deps({ maxDecodedBytes: 2 * size - 1 }));
    expect(result.decisions).toEqual([{ kind: 'stored' }, { kind: 'defer' }, { kind: 'defer' }]);
    expect(units.map((u) => u.decoded.kind)).toEqual(['converted', 'decoded', 'pending']);
    expect(decodedBytes(units[1]!)).toBe(size);
    // The decoded copy is not decoded again later.
    const next = await processBatch(units.slice(1), h.deps({ maxDecodedBytes: 2 * size }));
    expect(next.decisions).toEqual([{ kind: 'stored' }, { kind: 'stored' }]);
  });

  it('a first unit larger than the budget still goes, alone', async () => {
    const h = harness();
    const result = await processBatch(
      docs.map((sub) => unit(sub)),
      h.deps({ maxDecodedBytes: 10 }),
    );
    expect(result.decisions).toEqual([{ kind: 'stored' }, { kind: 'defer' }, { kind: 'defer' }]);
    expect(h.targets.lines).toHaveLength(1);
  });

  it('counts filed bodies and nothing for units without bytes', async () => {
    const h = harness();
    const bad = submission(Buffer.alloc(40, 0x61), { docId: 'too-big' }); // over the cap below, filed with its 40 bytes
    const poison: Unit = { submission: submission('x', { docId: 'poison' }), attempts: 0, suspectId: 'p', decoded: { kind: 'deadLetter', reason: 'died' } };
    const units = [poison, unit(bad), unit(docs[0]!)];
    const result = await processBatch(units, h.deps({ maxUncompressedBytes: 39, maxDecodedBytes: 40 }));
    expect(result.decisions.map((d) => d.kind)).toEqual(['deadLetter', 'filed', 'defer']);
    expect(h.targets.entries.map((e) => e.type)).toEqual(['too_large']);
  });
});

describe('processBatch: conversion failures', () => {
  it('a transient failure is retried with its claim released and its bytes kept; at maxAttempts it is dead-lettered', async () => {
    const h = harness(() => Promise.reject(new RevisionUnavailableError('hg.mozilla.org timed out')));
    const u = unit(submission(gzipSync(IDLE_DAILY)));
    const result = await processBatch([u], h.deps());
    expect(result.decisions).toEqual([{ kind: 'retry', reason: 'hg.mozilla.org timed out' }]);
    expect(result.stored).toEqual([]);
    expect(result.filed).toEqual([]);
    expect(h.dedup.values.has(keyOf(u))).toBe(false);
    expect(h.dedup.calls.find((c) => c.op === 'release')).toEqual({ op: 'release', keys: [keyOf(u)], arg: OWNER });
    expect(h.inFlightKeys.size).toBe(0);
    expect(u.decoded.kind).toBe('decoded');

    const last = unit(submission(gzipSync(IDLE_DAILY)), { attempts: 2 });
    const final = await processBatch([last], h.deps());
    expect(final.decisions).toHaveLength(1);
    expect(final.decisions[0]?.kind).toBe('deadLetter');
    expect(final.decisions[0]).toMatchObject({ reason: expect.stringMatching(/gave up after 3 attempts: hg\.mozilla\.org timed out/) as unknown });
    expect(h.dedup.values.has(keyOf(last))).toBe(false);
    expect(h.targets.lines).toEqual([]);
  });

  it('a convert that throws a plain Error is dead-lettered as an internal error', async () => {
    const h = harness(() => Promise.reject(new Error('invariant broken')));
    const u = unit(submission(IDLE_DAILY));
    const result = await processBatch([u], h.deps());
    expect(result.decisions).toEqual([{ kind: 'deadLetter', reason: 'internal error: Error: invariant broken' }]);
    expect(h.dedup.values.has(keyOf(u))).toBe(false);
    expect(h.targets.lines).toEqual([]);
    expect(h.targets.entries).toEqual([]);
  });

  it('a convert that throws synchronously is handled like a rejection', async () => {
    const h = harness(() => {
      throw new TypeError('boom');
    });
    const result = await processBatch([unit(submission(IDLE_DAILY))], h.deps());
    expect(result.decisions).toEqual([{ kind: 'deadLetter', reason: 'internal error: TypeError: boom' }]);
  });

  it('a PingError from conversion is filed with the decoded text as the entry body', async () => {
    const h = harness();
    const text = '{"ver":2,"info":';
    const path = `${DOC_ID}/idle-daily/Firefox/23.0.1/release/20130814063812`;
    const u = unit(submission(gzipSync(text), { path }));
    const result = await processBatch([u], h.deps());
    expect(result.decisions).toEqual([{ kind: 'filed' }]);
    expect(h.targets.entries).toHaveLength(1);
    const [entry] = h.targets.entries;
    expect(entry).toMatchObject({ docId: DOC_ID, type: 'bad_json', path, receivedAtMs: RECEIVED });
    expect(Buffer.from(entry!.body).toString('utf8')).toBe(text);
    expect(result.filed).toEqual([entry]);
    expect(h.dedup.values.get(keyOf(u))).toBe('done');
  });

  it('a PingError without decoded text keeps the body as received', async () => {
    const h = harness(() => Promise.reject(new PingError('bad_payload', 'no info')));
    const body = gzipSync(IDLE_DAILY);
    await processBatch([unit(submission(body))], h.deps());
    expect(h.targets.entries.map((e) => [e.type, e.message])).toEqual([['bad_payload', 'no info']]);
    expect(Buffer.from(h.targets.entries[0]!.body).equals(body)).toBe(true);
  });

  it('a unit decoded as dead-letter (a poison suspect) is dead-lettered without a claim or a conversion', async () => {
    const h = harness();
    const u: Unit = { submission: submission(IDLE_DAILY), attempts: 0, suspectId: 'sus-1', decoded: { kind: 'deadLetter', reason: 'its worker process died 3 times' } };
    const result = await processBatch([u], h.deps());
    expect(result.decisions).toEqual([{ kind: 'deadLetter', reason: 'its worker process died 3 times' }]);
    expect(h.convertCalls).toBe(0);
    expect(h.dedup.calls.flatMap((c) => c.keys)).toEqual([]);
  });

  it('one batch mixes every outcome, each unit decided in order', async () => {
    const h = harness((sub, bytes) => (sub.docId === 'transient' ? Promise.reject(new RevisionUnavailableError('down')) : convertDecoded(sub, bytes, context)));
    const done = submission(SAVED_SESSION);
    h.dedup.values.set(keyFor(done), 'done');
    const units = [
      unit(submission(IDLE_DAILY)),
      unit(submission(IDLE_DAILY, { docId: 'transient' })),
      unit(submission(Buffer.from([0x1f, 0x8b, 0]))),
      unit(done),
      unit(submission(gzipSync(IDLE_DAILY))),
    ];
    const result = await processBatch(units, h.deps());
    expect(result.decisions.map((d) => d.kind)).toEqual(['stored', 'retry', 'filed', 'duplicate', 'hold']);
    expect(h.inFlightKeys.size).toBe(0);
  });
});

describe('processBatch: persist failure', () => {
  it('throws a TransientError, leaves nothing in flight, and a retry writes without converting again', async () => {
    const h = harness();
    h.targets.storageFailures = 1;
    const units = [unit(submission(gzipSync(IDLE_DAILY))), unit(submission(gzipSync(SAVED_SESSION)))];
    const error: unknown = await processBatch(units, h.deps()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toBeInstanceOf(StorageWriteError);
    expect(h.inFlightKeys.size).toBe(0);
    expect(h.targets.lines).toEqual([]);
    expect(h.convertCalls).toBe(2);
    // Not marked done: their claims stay this owner's (they expire with the lease).
    for (const u of units) expect(h.dedup.values.get(keyOf(u))).toBe(`claim:${OWNER}`);
    expect(h.dedup.calls.filter((c) => c.op === 'markDone')).toEqual([]);

    const retried = await processBatch(units, h.deps());
    expect(retried.decisions).toEqual([{ kind: 'stored' }, { kind: 'stored' }]);
    expect(h.targets.lines).toHaveLength(2);
    expect(h.convertCalls).toBe(2);
    for (const u of units) expect(h.dedup.values.get(keyOf(u))).toBe('done');
    expect(h.inFlightKeys.size).toBe(0);
  });

  it('a failed dedup store claim throws before anything is in flight', async () => {
    const h = harness();
    const failing: DedupStore = { claim: () => Promise.reject(new TransientError('Redis claim failed')), markDone: () => Promise.resolve(), release: () => Promise.resolve() };
    await expect(processBatch([unit(submission(IDLE_DAILY))], h.deps({ dedup: failing }))).rejects.toBeInstanceOf(TransientError);
    expect(h.inFlightKeys.size).toBe(0);
    expect(h.convertCalls).toBe(0);
  });

  it('a mark-done failure after the write does not fail the batch (best effort)', async () => {
    const h = harness();
    h.dedup.failMarkDone = true;
    const u = unit(submission(IDLE_DAILY));
    const result = await processBatch([u], h.deps());
    expect(result.decisions).toEqual([{ kind: 'stored' }]);
    expect(h.targets.lines).toHaveLength(1);
    expect(h.dedup.values.get(keyOf(u))).toBe(`claim:${OWNER}`);
    expect(h.inFlightKeys.size).toBe(0);
  });
});

describe('processBatch: suspect journal', () => {
  it('journals only units with a suspectId, around their decode and their conversion', async () => {
    const h = harness();
    const suspect = unit(submission(IDLE_DAILY), { suspectId: 'sus-1' });
    const plain = unit(submission(SAVED_SESSION));
    const heldSuspect = unit(submission(gzipSync(IDLE_DAILY)), { suspectId: 'sus-2' }); // same document as sus-1: held
    const result = await processBatch([suspect, plain, heldSuspect], h.deps());
    expect(result.decisions.map((d) => d.kind)).toEqual(['stored', 'stored', 'hold']);
    // Decode stage (all three in order), then conversion of the claimed ones.
    expect(h.journal.events).toEqual(['enter sus-1', 'leave sus-1', 'enter sus-2', 'leave sus-2', 'enter sus-1', 'leave sus-1']);
  });

  it('does not journal the decode of a unit decoded already', async () => {
    const h = harness();
    await processBatch([unit(submission(IDLE_DAILY), { suspectId: 'sus-4', decoded: true })], h.deps());
    expect(h.journal.events).toEqual(['enter sus-4', 'leave sus-4']);
  });

  it('leaves a suspect whose conversion failed', async () => {
    const h = harness(() => Promise.reject(new Error('bug')));
    await processBatch([unit(submission(IDLE_DAILY), { suspectId: 'sus-3', decoded: true })], h.deps());
    expect(h.journal.events).toEqual(['enter sus-3', 'leave sus-3']);
  });
});

describe('claimStage', () => {
  const options = (h: Harness, dedup: DedupStore = h.dedup) => ({ dedup, owner: OWNER, claimLeaseMs: 1_000, inFlightKeys: h.inFlightKeys });

  it('claims new keys, keeps them in flight and proceeds in unit order', async () => {
    const h = harness();
    const done = unit(submission(SAVED_SESSION), { decoded: true });
    h.dedup.values.set(keyOf(done), 'done');
    const busy = unit(submission('{"ver":2}'), { decoded: true });
    h.dedup.values.set(keyOf(busy), 'claim:writer-b');
    const fresh = unit(submission(IDLE_DAILY), { decoded: true });
    const noKey: Unit = { submission: submission('x'), attempts: 0, suspectId: undefined, decoded: { kind: 'deadLetter', reason: 'poison' } };
    const claims = await claimStage([fresh, done, noKey, busy, unit(submission(IDLE_DAILY), { decoded: true })], options(h));
    expect(claims.proceed).toEqual([0, 2]);
    expect([...claims.claimed.keys()]).toEqual([0]);
    expect(hex(claims.claimed.get(0)!)).toBe(keyOf(fresh));
    expect(Object.fromEntries(claims.decided)).toEqual({ 1: { kind: 'duplicate' }, 3: { kind: 'hold' }, 4: { kind: 'hold' } });
    // Only the claimed key stays reserved.
    expect([...h.inFlightKeys]).toEqual([keyOf(fresh)]);
    // One store round trip for the batch, the in-batch copy not asked.
    expect(h.dedup.calls.filter((c) => c.op === 'claim')).toHaveLength(1);
    expect(h.dedup.calls[0]?.keys).toEqual([keyOf(fresh), keyOf(done), keyOf(busy)]);
  });

  it('reserves keys before the round trip: a concurrent batch of this worker holds them', async () => {
    const h = harness();
    let answer: (() => void) | undefined;
    const slow: DedupStore = {
      claim: (keys, owner, leaseMs) =>
        new Promise((resolve) => {
          answer = () => resolve(h.dedup.claim(keys, owner, leaseMs));
        }),
      markDone: (keys, ttl) => h.dedup.markDone(keys, ttl),
      release: (keys, owner) => h.dedup.release(keys, owner),
    };
    const a = unit(submission(IDLE_DAILY), { decoded: true });
    const b = unit(submission(gzipSync(IDLE_DAILY)), { decoded: true });
    const first = claimStage([a], options(h, slow));
    expect(h.inFlightKeys.has(keyOf(a))).toBe(true);
    const second = await claimStage([b], options(h, h.dedup));
    expect(Object.fromEntries(second.decided)).toEqual({ 0: { kind: 'hold' } });
    answer?.();
    expect((await first).proceed).toEqual([0]);
  });

  it('a failed round trip releases the reservations', async () => {
    const h = harness();
    const failing: DedupStore = { claim: () => Promise.reject(new TransientError('Redis down')), markDone: () => Promise.resolve(), release: () => Promise.resolve() };
    await expect(claimStage([unit(submission(IDLE_DAILY), { decoded: true }), unit(submission(SAVED_SESSION), { decoded: true })], options(h, failing))).rejects.toThrow('Redis down');
    expect(h.inFlightKeys.size).toBe(0);
  });

  it('throws when the store answers fewer results than keys, without leaving keys in flight', async () => {
    const h = harness();
    const short: DedupStore = { claim: () => Promise.resolve(['claimed']), markDone: () => Promise.resolve(), release: () => Promise.resolve() };
    const units = [unit(submission(IDLE_DAILY), { decoded: true }), unit(submission(SAVED_SESSION), { decoded: true })];
    await expect(claimStage(units, options(h, short))).rejects.toThrow(/no claim result for unit 1/);
    expect(h.inFlightKeys.size).toBe(0);
  });
});

describe('decodeStage', () => {
  it('decodes gzip and plain bodies to the same bytes and key', () => {
    const gz = decodeStage(submission(gzipSync(IDLE_DAILY), { contentEncoding: 'gzip' }), MAX_UNCOMPRESSED);
    const plain = decodeStage(submission(IDLE_DAILY), MAX_UNCOMPRESSED);
    expect(gz.kind).toBe('decoded');
    expect(plain.kind).toBe('decoded');
    if (gz.kind !== 'decoded' || plain.kind !== 'decoded') return;
    expect(Buffer.from(gz.bytes).toString('utf8')).toBe(IDLE_DAILY);
    expect(gz.key.equals(plain.key)).toBe(true);
    expect(gz.key).toHaveLength(16);
    // The docId is part of the key.
    const other = decodeStage(submission(IDLE_DAILY, { docId: 'another-doc' }), MAX_UNCOMPRESSED);
    expect(other.kind === 'decoded' && other.key.equals(plain.key)).toBe(false);
  });

  it('files bad gzip as corrupted_data, keyed by the raw body', () => {
    const sub = submission(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03]), { contentEncoding: 'gzip' });
    const outcome = decodeStage(sub, MAX_UNCOMPRESSED);
    expect(outcome.kind).toBe('file');
    if (outcome.kind !== 'file') return;
    expect(outcome.entry.type).toBe('corrupted_data');
    expect(outcome.key?.equals(rawKey(sub))).toBe(true);
    expect(Buffer.from(outcome.entry.body).equals(sub.body)).toBe(true);
    expect(outcome.entry).toMatchObject({ docId: DOC_ID, path: DOC_ID, receivedAtMs: RECEIVED });
  });

  it('files a body over the cap as too_large, plain or inflating past it', () => {
    const plain = decodeStage(submission(Buffer.alloc(2_000, 0x61)), 1_000);
    expect(plain.kind === 'file' ? plain.entry.type : plain.kind).toBe('too_large');
    const bomb = decodeStage(submission(gzipSync(Buffer.alloc(100_000, 0x20))), 1_000);
    expect(bomb.kind === 'file' ? bomb.entry.type : bomb.kind).toBe('too_large');
    expect(bomb.kind === 'file' ? bomb.key : undefined).toBeInstanceOf(Buffer);
  });

  it('files an empty body as empty_data', () => {
    const outcome = decodeStage(submission(Buffer.alloc(0)), MAX_UNCOMPRESSED);
    expect(outcome.kind === 'file' ? outcome.entry.type : outcome.kind).toBe('empty_data');
  });

  it.each([
    ['a slash', 'bad/id', 'bad_id'],
    ['a tab and a newline', 'a\tb\nc', 'a_b_c'],
    ['unicode', 'dóc', 'd_c'],
    ['over 100 characters', 'x'.repeat(101), 'x'.repeat(100)],
  ])('files a docId with %s as invalid_path with no key', (_label, docId, safe) => {
    const outcome = decodeStage(submission(IDLE_DAILY, { docId }), MAX_UNCOMPRESSED);
    expect(outcome.kind).toBe('file');
    if (outcome.kind !== 'file') return;
    expect(outcome.key).toBeUndefined();
    expect(outcome.entry.type).toBe('invalid_path');
    expect(outcome.entry.docId).toBe(safe);
    expect(outcome.entry.message).toContain('invalid docId');
    expect(Buffer.from(outcome.entry.body).toString('utf8')).toBe(IDLE_DAILY);
  });

  it('an empty docId is filed as unknown-<receive time>', () => {
    const outcome = decodeStage(submission(IDLE_DAILY, { docId: '' }), MAX_UNCOMPRESSED);
    expect(outcome.kind === 'file' ? [outcome.key, outcome.entry.docId] : outcome.kind).toEqual([undefined, `unknown-${RECEIVED}`]);
  });

  it('decodedBytes is the decoded size, the filed body size, or nothing', async () => {
    const body = gzipSync(IDLE_DAILY);
    const u = unit(submission(body));
    expect(decodedBytes(u)).toBe(0); // pending
    u.decoded = decodeStage(u.submission, MAX_UNCOMPRESSED);
    expect(decodedBytes(u)).toBe(Buffer.byteLength(IDLE_DAILY));
    expect(decodedBytes(unit(submission(Buffer.from([0x1f, 0x8b, 0])), { decoded: true }))).toBe(3); // the entry keeps the raw body
    expect(decodedBytes({ ...u, decoded: { kind: 'deadLetter', reason: 'x' } })).toBe(0);
    await processBatch([u], harness().deps());
    expect(decodedBytes(u)).toBe(0); // converted: the bytes are dropped
  });
});
