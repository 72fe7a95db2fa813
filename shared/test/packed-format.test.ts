import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  parsePackedBuffer,
  readPackedFile,
  writePackedRecord,
  type PackedReadCounters,
  type PackedRecord,
  type PackedVariant,
} from '../src/packed/index.js';
import { fixturePath } from '../../test/support/fixtures.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packed-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(file: string, variant: PackedVariant | 'auto' = 'auto') {
  const counters: PackedReadCounters = { records: 0, trailingBytes: 0 };
  const records: PackedRecord[] = [];
  for await (const record of readPackedFile(file, { variant, counters })) records.push(record);
  return { records, counters };
}

describe('the real packed fixtures', () => {
  it('telemetry1.packed: one Firefox 23 idle-daily ping, then a stray newline reported as trailing', async () => {
    const file = fixturePath('pings/telemetry1.packed');
    const { records, trailingBytes } = parsePackedBuffer(await readFile(file));
    expect(trailingBytes).toBe(1);
    expect(records).toHaveLength(1);
    const [ping] = records as [PackedRecord];
    expect(ping.path).toBe('17caa68c-25f5-450a-9cce-7d31318846d8/idle-daily/Firefox/23.0.1/release/20130814063812');
    expect(new Date(ping.receivedAtMs).toISOString().slice(0, 10)).toBe('2013-09-10');
    expect(ping.clientIp).toBeUndefined();
    const json = gunzipSync(ping.body);
    expect(json.length).toBe(77_740);
    const parsed = JSON.parse(json.toString('utf8')) as { info: { revision: string }; histograms: object };
    expect(parsed.info.revision).toBe('http://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302');
    expect(Object.keys(parsed.histograms)).toHaveLength(328);

    const streamed = await readAll(file);
    expect(streamed.records).toEqual(records);
    expect(streamed.counters).toEqual({ records: 1, trailingBytes: 1 });
  });

  it('unicode.packed: the same ping gzipped and raw, with its UTF-8 text intact', async () => {
    const file = fixturePath('pings/unicode.packed');
    const { records, trailingBytes } = parsePackedBuffer(await readFile(file));
    expect(trailingBytes).toBe(0);
    expect(records).toHaveLength(2);
    const [zipped, raw] = records as [PackedRecord, PackedRecord];
    expect([zipped.body[0], zipped.body[1]]).toEqual([0x1f, 0x8b]);
    expect(raw.body[0]).toBe(0x7b);
    // The same document (the gzipped copy carries one more trailing newline).
    expect(JSON.parse(gunzipSync(zipped.body).toString('utf8'))).toEqual(JSON.parse(raw.body.toString('utf8')));
    expect(raw.body.toString('utf8')).toContain('Wikipédia');
    expect(raw.receivedAtMs).toBeGreaterThan(zipped.receivedAtMs);
    expect((await readAll(file)).records).toEqual(records);
  });
});

const SAMPLE: PackedRecord[] = [
  { path: 'a1/saved-session/Firefox/23.0.1/release/20130814063812', body: Buffer.from('{"ver":1}'), receivedAtMs: 1_378_822_911_255, clientIp: '192.168.0.1' },
  { path: 'a2/idle-daily/Firefox/24.0/beta/20130910', body: randomBytes(300), receivedAtMs: 1_378_822_911_300, clientIp: '2001:db8::ff00:42:8329' },
  { path: 'a3/saved-session/Firefox/25.0a1/nightly/x', body: Buffer.alloc(0), receivedAtMs: 1_378_822_912_000 },
];

describe('the with-ip variant', () => {
  it('is detected per record by auto and read by the explicit variant', async () => {
    const buf = Buffer.concat(SAMPLE.map((r) => writePackedRecord(r, 'with-ip')));
    expect(parsePackedBuffer(buf)).toEqual({ records: SAMPLE, trailingBytes: 0 });
    expect(parsePackedBuffer(buf, { variant: 'with-ip' })).toEqual({ records: SAMPLE, trailingBytes: 0 });
    const file = path.join(dir, 'with-ip.packed');
    await writeFile(file, buf);
    expect((await readAll(file)).records).toEqual(SAMPLE);
  });

  it('mixes with plain records in one file under auto', () => {
    const plain = SAMPLE.map((r) => ({ path: r.path, body: r.body, receivedAtMs: r.receivedAtMs }));
    const buf = Buffer.concat([writePackedRecord(plain[0] as PackedRecord, 'plain'), writePackedRecord(SAMPLE[1] as PackedRecord, 'with-ip'), writePackedRecord(plain[2] as PackedRecord, 'plain')]);
    expect(parsePackedBuffer(buf).records).toEqual([plain[0], SAMPLE[1], plain[2]]);
  });
});

describe('damaged input', () => {
  const plain = SAMPLE.map(({ clientIp: _ip, ...rest }) => rest);
  const whole = Buffer.concat(plain.map((r) => writePackedRecord(r, 'plain')));
  const lastStart = whole.length - writePackedRecord(plain[2] as PackedRecord, 'plain').length;

  const secondStart = writePackedRecord(plain[0] as PackedRecord, 'plain').length;
  const secondEnd = secondStart + writePackedRecord(plain[1] as PackedRecord, 'plain').length;

  it.each([
    ['inside its body', secondEnd - 10],
    ['inside its path', secondStart + 15 + 5],
    ['inside its header', secondStart + 7],
    ['right after its marker', secondStart + 1],
  ])('a record cut %s is left as trailing bytes', async (_name, cut) => {
    const buf = whole.subarray(0, cut);
    const parsed = parsePackedBuffer(buf);
    expect(parsed).toEqual({ records: plain.slice(0, 1), trailingBytes: cut - secondStart });
    const file = path.join(dir, 'cut.packed');
    await writeFile(file, buf);
    expect((await readAll(file)).counters).toEqual({ records: 1, trailingBytes: cut - secondStart });
  });

  it('stops at garbage between records and counts everything after it', async () => {
    const garbage = Buffer.from('\n\u001e garbage that is not a record');
    const buf = Buffer.concat([whole.subarray(0, lastStart), garbage, whole.subarray(lastStart)]);
    expect(parsePackedBuffer(buf)).toEqual({ records: plain.slice(0, 2), trailingBytes: buf.length - lastStart });
    expect(parsePackedBuffer(Buffer.from('not a packed file at all'))).toEqual({ records: [], trailingBytes: 24 });
    expect(parsePackedBuffer(Buffer.alloc(0))).toEqual({ records: [], trailingBytes: 0 });
    const file = path.join(dir, 'garbage.packed');
    await writeFile(file, buf);
    expect((await readAll(file)).counters).toEqual({ records: 2, trailingBytes: buf.length - lastStart });
  });

  it('treats an absurd body length as garbage instead of buffering it', () => {
    const rec = writePackedRecord(SAMPLE[0] as PackedRecord, 'plain');
    rec.writeUInt32LE(0xfffffff0, 3);
    expect(parsePackedBuffer(Buffer.concat([rec, Buffer.alloc(100)]))).toEqual({ records: [], trailingBytes: rec.length + 100 });
  });
});

describe('streaming', () => {
  it('reads records spanning read chunks, including one bigger than a chunk', async () => {
    const records: PackedRecord[] = Array.from({ length: 40 }, (_, i) => ({
      path: `doc-${i}/saved-session/Firefox/23.0.1/release/20130814063812`,
      body: randomBytes(i === 17 ? 700_000 : 9_000 + i * 311),
      receivedAtMs: 1_378_822_911_255 + i,
      ...(i % 3 === 0 ? { clientIp: `10.0.0.${i}` } : {}),
    }));
    const file = path.join(dir, 'big.packed');
    await writeFile(file, Buffer.concat(records.map((r) => writePackedRecord(r, 'with-ip'))));
    const { records: read, counters } = await readAll(file);
    // Bodies compared with equals(): a deep equal of 1 MB of bytes is needlessly slow.
    expect(read.map(({ body: _b, ...meta }) => meta)).toEqual(records.map(({ body: _b, ...meta }) => meta));
    read.forEach((r, i) => expect(r.body.equals(records[i]?.body ?? Buffer.alloc(0))).toBe(true));
    expect(counters).toEqual({ records: 40, trailingBytes: 0 });
  });
});

describe('writePackedRecord', () => {
  it('round-trips any record through auto detection, in either variant', () => {
    const record = fc.record(
      {
        path: fc.string({ unit: fc.constantFrom(...'abcdef0123456789-/._ é'), minLength: 1, maxLength: 120 }),
        body: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
        receivedAtMs: fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }),
        clientIp: fc.ipV4(),
      },
      { requiredKeys: ['path', 'body', 'receivedAtMs'] },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(record, fc.constantFrom<PackedVariant>('plain', 'with-ip')), { maxLength: 6 }), (items) => {
        const buf = Buffer.concat(items.map(([r, v]) => writePackedRecord(r, v)));
        const expected = items.map(([r, v]) => {
          const { clientIp, ...rest } = r;
          return v === 'with-ip' && clientIp ? { ...rest, clientIp } : rest;
        });
        expect(parsePackedBuffer(buf)).toEqual({ records: expected, trailingBytes: 0 });
      }),
    );
  });

  it('refuses what the format cannot hold', () => {
    const base = SAMPLE[0] as PackedRecord;
    expect(() => writePackedRecord({ ...base, path: 'x'.repeat(70_000) })).toThrow(RangeError);
    expect(() => writePackedRecord({ ...base, clientIp: 'x'.repeat(300) }, 'with-ip')).toThrow(RangeError);
    expect(() => writePackedRecord({ ...base, receivedAtMs: -1 })).toThrow(RangeError);
  });
});
