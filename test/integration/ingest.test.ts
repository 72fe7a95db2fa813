import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { parsePackedBuffer } from '@telemetry/shared/packed/packed-reader';
import { parseErrorLine } from '@telemetry/shared/storage/error-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath } from '../support/fixtures.js';
import { listFiles, readAllLines, startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitFor } from '../support/services.js';

const REVISION = 'http://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302';

/** A small valid classic ping: one histogram of the real revision. */
function classicPing(info: Record<string, unknown>, values: Record<string, number> = { '0': 0, '1': 3 }): string {
  return JSON.stringify({
    ver: 1,
    info: { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812', revision: REVISION, ...info },
    histograms: { DOM_TIMERS_FIRED_PER_NATIVE_TIMEOUT: { range: [1, 3000], bucket_count: 10, histogram_type: 0, values, sum: 3 } },
  });
}

async function errorRecords(p: TestPipeline) {
  const lines = await readAllLines(p.errorsDir);
  return lines.map(({ file, line }) => ({ file, ...parseErrorLine(line) }));
}

describe('ingestion end to end: gateway -> RabbitMQ -> worker -> storage', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline('ingest');
  });
  afterAll(async () => {
    await p.stop();
  });

  it('stores the real Firefox ping under its dimensions with the converted content', async () => {
    const { records } = parsePackedBuffer(await readFile(fixturePath('pings', 'telemetry1.packed')));
    const record = records[0];
    if (!record) throw new Error('no record');
    const response = await p.submit(record.path, record.body, { 'content-encoding': 'gzip' });
    expect(response.status).toBe(200);
    const docId = record.path.split('/')[0] ?? '';
    await waitFor('the stored record', async () => (await readAllLines(p.storageDir)).some((l) => l.line.startsWith(docId)));
    const stored = (await readAllLines(p.storageDir)).find((l) => l.line.startsWith(docId));
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    expect(stored?.file).toMatch(new RegExp(`^idle_daily/Firefox/release/23\\.0\\.1/20130814063812\\.${today}\\.v2\\.test_w0\\.`));
    const converted = JSON.parse(stored?.line.split('\t')[1] ?? '{}') as { ver: number; histograms: Record<string, unknown> };
    expect(converted.ver).toBe(2);
    expect(Object.keys(converted.histograms)).toHaveLength(326);
  });

  it('files the unified pings with an unknown revision as missing_revision, UTF-8 body intact', async () => {
    const { records } = parsePackedBuffer(await readFile(fixturePath('pings', 'unicode.packed')));
    for (const [index, record] of records.entries()) {
      // The same ping twice in the fixture: give each its own docId so neither is a duplicate.
      const docId = `unicode-${index}-${Date.now()}`;
      const gzipped = record.body[0] === 0x1f && record.body[1] === 0x8b;
      const response = await p.submit(docId, record.body, gzipped ? { 'content-encoding': 'gzip' } : {});
      expect(response.status).toBe(200);
    }
    await waitFor('two missing_revision records', async () => (await errorRecords(p)).filter((r) => r.docId?.startsWith('unicode-')).length === 2);
    const filed = (await errorRecords(p)).filter((r) => r.docId?.startsWith('unicode-'));
    for (const entry of filed) {
      expect(entry.file.startsWith('missing_revision/')).toBe(true);
      expect(entry.record?.type).toBe('missing_revision');
      expect(entry.record?.bodyEncoding).toBeUndefined();
    }
    // Both copies (gzipped and raw) are kept as the decoded UTF-8 text, intact.
    for (const entry of filed) expect(entry.record?.body).toContain('Wikipédia');
  });

  it('files each kind of bad body under its error type and keeps the body', async () => {
    const bomb = gzipSync(Buffer.alloc(12 * 1024 * 1024, 0x20)); // 12 MiB of spaces > MAX_UNCOMPRESSED (10 MiB)
    const cases: [string, Uint8Array, Record<string, string>, string][] = [
      ['bomb', bomb, { 'content-encoding': 'gzip' }, 'too_large'],
      ['badgzip', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3]), {}, 'corrupted_data'],
      ['badutf8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), {}, 'corrupted_data'],
      ['badjson', Buffer.from('{"ver": 1,'), {}, 'bad_json'],
      ['version', Buffer.from('{"ver": 7, "info": {}}'), {}, 'bad_payload'],
      ['bucket', Buffer.from(classicPing({}, { '0': 1, '2': 5 })), {}, 'conversion_error'],
    ];
    const stamp = Date.now();
    for (const [name, body, headers] of cases) {
      expect((await p.submit(`bad-${name}-${stamp}`, body, headers)).status).toBe(200);
    }
    await waitFor('all bad bodies filed', async () => (await errorRecords(p)).filter((r) => r.docId?.endsWith(`-${stamp}`)).length === cases.length);
    const filed = new Map((await errorRecords(p)).map((r) => [r.docId, r]));
    for (const [name, body, , type] of cases) {
      const entry = filed.get(`bad-${name}-${stamp}`);
      expect(entry?.record?.type, name).toBe(type);
      expect(entry?.file.startsWith(`${type}/`)).toBe(true);
      expect(entry?.body?.equals(Buffer.from(body)), `${name} body kept`).toBe(true);
    }
  });

  it('keeps a hostile dimension value inside STORAGE_DIR', async () => {
    const docId = `escape-${Date.now()}`;
    const ping = classicPing({ appVersion: '../../x', appBuildID: '../../../../etc/passwd', reason: '..' });
    expect((await p.submit(docId, ping)).status).toBe(200);
    await waitFor('the stored record', async () => (await readAllLines(p.storageDir)).some((l) => l.line.startsWith(docId)));
    const stored = (await readAllLines(p.storageDir)).find((l) => l.line.startsWith(docId));
    const absolute = path.resolve(p.storageDir, stored?.file ?? '');
    expect(absolute.startsWith(p.storageDir + path.sep)).toBe(true);
    expect(stored?.file).toBe(`OTHER/Firefox/release/.._.._x/____________etc_passwd.${new Date().toISOString().slice(0, 10).replace(/-/g, '')}.v2.test_w0.log`);
    // Nothing anywhere else in the test directory but our storage, errors and caches.
    const top = new Set((await listFiles(p.env.dir)).map((f) => f.split(path.sep)[0]));
    expect([...top].every((name) => ['storage', 'errors', 'revisions'].includes(name ?? ''))).toBe(true);
  });

  it('stores retries of one docId once, also when two copies are in flight at once', async () => {
    const docId = `dup-${Date.now()}`;
    const ping = classicPing({});
    const responses = await Promise.all([p.submit(docId, ping), p.submit(docId, ping), p.submit(docId, ping)]);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    await waitFor('the stored record', async () => (await readAllLines(p.storageDir)).some((l) => l.line.startsWith(docId)));
    // A later retry, after the first copy is stored, is a duplicate too.
    expect((await p.submit(docId, ping)).status).toBe(200);
    await waitFor('queue drained', async () => (await p.env.queueDepth(p.env.topology.persistQueue)) === 0);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // past the hold re-check
    const copies = (await readAllLines(p.storageDir)).filter((l) => l.line.startsWith(`${docId}\t`));
    expect(copies).toHaveLength(1);
  });
});
