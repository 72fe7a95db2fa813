/**
 * Glean pings (the generic form, issue 16) through the real pipeline —
 * gateway, RabbitMQ, workers, Redis, stats — as Firefox ESR 153 sends them:
 * gzip bodies, `X-Telemetry-Agent: Glean/67.3.2 (Rust on Linux)`. Stored in
 * the generic layout exactly once however resent; bad bodies typed; the
 * deletion requests listed by the CLI; counted by namespace, docType and
 * channel beside telemetry.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseErrorLine } from '@telemetry/shared/storage/error-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTelemetry } from '../support/cli.js';
import { baselinePing, deletionRequestPing, GLEAN_AGENT } from '../support/glean.js';
import { readAllLines, startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitFor } from '../support/services.js';

const today = (): string => new Date().toISOString().slice(0, 10).replaceAll('-', '');

function gleanHeaders(body: Buffer): Record<string, string> {
  return {
    'content-type': 'application/json; charset=utf-8',
    'content-encoding': 'gzip',
    'content-length': String(body.length),
    date: new Date().toUTCString(),
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0',
    'x-telemetry-agent': GLEAN_AGENT,
  };
}

describe('Glean pings through the pipeline', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline('glean', { workers: 2, stats: true, workerEnv: { HOLD_RECHECK: '100ms' } });
  });
  afterAll(async () => {
    await p.stop();
  });

  const post = (namespace: string, docType: string, docId: string, body: Buffer, headers = gleanHeaders(body)) =>
    fetch(`${p.baseUrl}/submit/${namespace}/${docType}/1/${docId}`, { method: 'POST', body, headers });
  const stored = async (docId: string) => (await readAllLines(p.storageDir)).filter((l) => l.line.startsWith(`${docId}\t`));
  const settled = async () => {
    await waitFor('persist queue drained', async () => (await p.env.queueDepth(p.env.topology.persistQueue)) === 0);
    await new Promise((resolve) => setTimeout(resolve, 400)); // held copies re-checked and acked
  };

  it('stores a baseline ping in the generic layout once, resent byte for byte, recompressed or plain, also in flight at once', async () => {
    const docId = randomUUID();
    const ping = baselinePing();
    const json = JSON.stringify(ping);
    const first = gzipSync(json, { level: 6 });
    const recompressed = gzipSync(json, { level: 1 });
    expect(recompressed.equals(first)).toBe(false);
    const statuses = await Promise.all([first, first, recompressed].map(async (body) => (await post('firefox-desktop', 'baseline', docId, body)).status));
    expect(statuses).toEqual([200, 200, 200]);
    const plain = Buffer.from(json);
    const { 'content-encoding': _gzip, ...plainHeaders } = gleanHeaders(plain);
    expect((await post('firefox-desktop', 'baseline', docId, plain, plainHeaders)).status).toBe(200);

    await waitFor('the ping stored', async () => (await stored(docId)).length >= 1);
    await settled();
    const lines = await stored(docId);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.file).toMatch(new RegExp(`^generic-pings/firefox_desktop/baseline/1/esr/153_8_0esr\\.${today()}\\.v2\\.test_w[01]\\.log$`));
    expect(JSON.parse(lines[0]?.line.slice(docId.length + 1) ?? '')).toEqual(ping);
  });

  it('keeps two documents that share a docId', async () => {
    const docId = randomUUID();
    const pings = [baselinePing({ seq: 7 }), baselinePing({ seq: 8, reason: 'inactive' })];
    for (const ping of pings) expect((await post('firefox-desktop', 'baseline', docId, gzipSync(JSON.stringify(ping)))).status).toBe(200);
    await waitFor('both stored', async () => (await stored(docId)).length >= 2);
    await settled();
    const bodies = (await stored(docId)).map((l) => JSON.parse(l.line.slice(docId.length + 1)) as { ping_info: { seq: number } });
    expect(bodies.map((b) => b.ping_info.seq).sort()).toEqual([7, 8]);
  });

  it('files a body that is not a Glean ping as bad_payload, with its form and decoded text', async () => {
    const docId = randomUUID();
    const legacy = JSON.stringify({ version: 4, type: 'main', application: { name: 'Firefox' }, payload: {} });
    expect((await post('firefox-desktop', 'metrics', docId, gzipSync(legacy))).status).toBe(200);
    let errorLine: string | undefined;
    await waitFor('the error filed', async () => {
      errorLine = (await readAllLines(p.errorsDir)).find((l) => l.line.startsWith(`${docId}\t`))?.file;
      return errorLine !== undefined;
    });
    expect(errorLine?.startsWith(`bad_payload${path.sep}`)).toBe(true);
    const entry = (await readAllLines(p.errorsDir)).find((l) => l.line.startsWith(`${docId}\t`));
    expect(parseErrorLine(entry?.line ?? '')?.record).toMatchObject({
      type: 'bad_payload',
      path: `firefox-desktop/metrics/1/${docId}`,
      namespace: 'firefox-desktop',
      docType: 'metrics',
      docVersion: '1',
      body: legacy,
    });
    expect(await stored(docId)).toEqual([]);
  });

  it('lists a deletion-request by client id with `telemetry deletion-requests list`', async () => {
    const clientId = randomUUID();
    const docId = randomUUID();
    expect((await post('firefox-desktop', 'deletion-request', docId, gzipSync(JSON.stringify(deletionRequestPing(clientId))))).status).toBe(200);
    await waitFor('the deletion request stored', async () => (await stored(docId)).length === 1);
    expect((await stored(docId))[0]?.file.startsWith('generic-pings/firefox_desktop/deletion_request/1/esr/')).toBe(true);

    const listed = await runTelemetry(['deletion-requests', 'list', '--storage-dir', p.storageDir]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.split('\n')).toContain(`${clientId}\tfirefox_desktop\t${today()}\t${today()}\t1`);
    expect(listed.stderr).toMatch(/\d+ client\(s\), \d+ deletion-request ping\(s\)/);

    const file = path.join(p.env.dir, 'deletion-requests.tsv');
    const written = await runTelemetry(['deletion-requests', 'list', '--namespace', 'firefox-desktop', '--output', file], { env: { STORAGE_DIR: p.storageDir } });
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toBe('');
    expect((await readFile(file, 'utf8')).split('\n')).toContain(`${clientId}\tfirefox_desktop\t${today()}\t${today()}\t1`);
    expect((await runTelemetry(['deletion-requests', 'list', '--namespace', 'Bad.Namespace'])).code).toBe(2);
  });

  it('counts Glean pings by namespace, docType and channel beside telemetry', async () => {
    const namespace = `probe-${randomBytes(4).toString('hex')}`;
    const pings = [baselinePing({ channel: 'beta' }), baselinePing({ channel: 'beta' }), baselinePing({ channel: 'nightly' })];
    for (const ping of pings) expect((await post(namespace, 'baseline', randomUUID(), gzipSync(JSON.stringify(ping)))).status).toBe(200);
    expect((await post(namespace, 'events', randomUUID(), gzipSync('{"not":"glean"}'))).status).toBe(200);
    const telemetry = JSON.stringify({ ver: 2, info: { reason: 'main', appName: 'Firefox', appUpdateChannel: 'esr', appVersion: '153.8.0', appBuildID: '20260112100402' } });
    expect((await fetch(`${p.baseUrl}/submit/telemetry/${randomUUID()}/main/Firefox/153.8.0/esr/20260112100402?v=4`, { method: 'POST', body: telemetry })).status).toBe(200);

    type Values = { values: { value: string; received: number; persisted: number; errors: number }[] };
    const api = async (dimension: string): Promise<Values['values']> => {
      const response = await fetch(`${p.statsUrl}/api/stats/dimensions/${dimension}?window=1h&top=1000`);
      expect(response.status).toBe(200);
      return ((await response.json()) as Values).values;
    };
    const of = (values: Values['values'], value: string) => values.find((v) => v.value === value);
    await waitFor('all counted and persisted', async () => {
      const ours = of(await api('namespace'), namespace);
      return ours?.received === 4 && ours.persisted === 3 && ours.errors === 1;
    });
    expect(of(await api('namespace'), namespace)).toEqual({ value: namespace, received: 4, persisted: 3, errors: 1 });
    expect(of(await api('namespace'), 'telemetry')?.received).toBeGreaterThanOrEqual(1);
    expect(of(await api('docType'), 'events')).toMatchObject({ received: 1, persisted: 0, errors: 1 });
    expect(of(await api('docType'), 'main')?.received).toBeGreaterThanOrEqual(1);
    // Channels: from the body once persisted (Glean), from the URL when received (telemetry).
    await waitFor('telemetry persisted', async () => (of(await api('channel'), 'esr')?.received ?? 0) >= 1);
    expect(of(await api('channel'), 'beta')).toEqual({ value: 'beta', received: 0, persisted: 2, errors: 0 });
    expect(of(await api('channel'), 'nightly')).toEqual({ value: 'nightly', received: 0, persisted: 1, errors: 0 });
    // Glean pings have no telemetry URL fields: they never count as appUpdateChannel UNKNOWN.
    expect(of(await api('appUpdateChannel'), 'UNKNOWN')).toBeUndefined();
  });
});
