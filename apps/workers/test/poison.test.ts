import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Submission } from '@telemetry/shared/amqp/wire-codec';
import { REDIS_URL } from '../../../test/support/services.js';
import { DeathCounts, SuspectJournalFile, suspectId } from '../src/poison.js';

describe('SuspectJournalFile', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'suspects-'));
    file = path.join(dir, 'writer-0.suspects');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has no leftover when the file does not exist yet, and creates it empty', async () => {
    const { leftover } = SuspectJournalFile.open(file);
    expect(leftover).toEqual([]);
    expect(await readFile(file, 'utf8')).toBe('');
  });

  it('gives the ids a dead process left, once', () => {
    const { journal } = SuspectJournalFile.open(file);
    journal.enter('doc-1:1378795092000:120');
    journal.enter('doc-2:1378795092001:99');
    // The process dies here: no leave.
    const reopened = SuspectJournalFile.open(file);
    expect(reopened.leftover.sort()).toEqual(['doc-1:1378795092000:120', 'doc-2:1378795092001:99']);
    // Forgotten once read: the next process does not count them again.
    expect(SuspectJournalFile.open(file).leftover).toEqual([]);
  });

  it('gives nothing for ids that were left', async () => {
    const { journal } = SuspectJournalFile.open(file);
    journal.enter('a');
    journal.enter('b');
    journal.leave('a');
    // Rewritten in place, padded with newlines over what was there.
    expect((await readFile(file, 'utf8')).split('\n').filter((line) => line !== '')).toEqual(['b']);
    journal.leave('b');
    expect(SuspectJournalFile.open(file).leftover).toEqual([]);
  });

  it('keeps only what is in flight right now, each id once', () => {
    const { journal } = SuspectJournalFile.open(file);
    journal.enter('a');
    journal.enter('a');
    journal.enter('b');
    journal.leave('b');
    journal.leave('never-entered');
    journal.enter('c');
    expect(SuspectJournalFile.open(file).leftover).toEqual(['a', 'c']);
  });

  it('fails to open when the journal cannot be read for another reason than absence', () => {
    expect(() => SuspectJournalFile.open(dir)).toThrow(/EISDIR/);
  });

  it('suspectId names a submission by docId, receive time and body size', () => {
    const submission: Submission = { docId: 'doc-9', path: 'doc-9', receivedAtMs: 1_378_795_092_000, clientHeaders: {}, body: Buffer.alloc(0), bodyBytes: 4_096 };
    expect(suspectId(submission)).toBe('doc-9:1378795092000:4096');
  });
});

describe('DeathCounts (real Redis)', () => {
  const prefix = `test-poison-${Date.now()}-${randomBytes(4).toString('hex')}:`;
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 2 });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    expect(await redis.keys(`${prefix}*`)).toEqual([]);
    await redis.quit();
  });

  it('counts each death of an id and reads unknown ids as 0', async () => {
    const deaths = new DeathCounts(redis, prefix, 60_000);
    expect(await deaths.get(['x', 'y', 'z'])).toEqual([0, 0, 0]);
    await deaths.add(['x', 'y']);
    await deaths.add(['x']);
    expect(await deaths.get(['x', 'y', 'z'])).toEqual([2, 1, 0]);
    // Another process (another DeathCounts on the same prefix) sees the same counts.
    const other = new DeathCounts(redis, prefix, 60_000);
    await other.add(['y', 'y']);
    expect(await deaths.get(['y', 'x'])).toEqual([3, 2]);
  });

  it('counts expire after their ttl', async () => {
    const deaths = new DeathCounts(redis, prefix, 5_000);
    await deaths.add(['ttl']);
    const ttl = await redis.pttl(`${prefix}ttl`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(5_000);
  });

  it('keeps prefixes apart', async () => {
    await new DeathCounts(redis, `${prefix}a:`, 60_000).add(['same']);
    expect(await new DeathCounts(redis, `${prefix}b:`, 60_000).get(['same'])).toEqual([0]);
    expect(await new DeathCounts(redis, `${prefix}a:`, 60_000).get(['same'])).toEqual([1]);
  });

  it('does nothing for no ids', async () => {
    const deaths = new DeathCounts(redis, `${prefix}none:`, 60_000);
    await deaths.add([]);
    expect(await deaths.get([])).toEqual([]);
    expect(await redis.keys(`${prefix}none:*`)).toEqual([]);
  });

  it('reads a value that is not a count as 0', async () => {
    await redis.set(`${prefix}garbage`, 'not-a-number', 'PX', 60_000);
    expect(await new DeathCounts(redis, prefix, 60_000).get(['garbage'])).toEqual([0]);
  });
});
