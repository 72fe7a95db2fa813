import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { parsePackedBuffer } from '@telemetry/shared/packed/packed-reader';
import { parseErrorLine } from '@telemetry/shared/storage/error-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTelemetry } from '../../test/support/cli.js';
import { fixturePath } from '../../test/support/fixtures.js';
import { readAllLines, startTestPipeline, type TestPipeline } from '../../test/support/pipeline.js';
import { waitFor } from '../../test/support/services.js';

const runCli = (args: string[]) => runTelemetry(args);
const TELEMETRY1 = fixturePath('pings', 'telemetry1.packed');
const UNICODE = fixturePath('pings', 'unicode.packed');
const REVISION = 'http://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302';


async function packed(file: string) {
  return parsePackedBuffer(await readFile(file)).records;
}

/** A small valid classic ping of the real revision (the local Mercurial server has it). */
function classicPing(): string {
  return JSON.stringify({
    ver: 1,
    info: { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812', revision: REVISION },
    histograms: { DOM_TIMERS_FIRED_PER_NATIVE_TIMEOUT: { range: [1, 3000], bucket_count: 10, histogram_type: 0, values: { '0': 0, '1': 3 }, sum: 3 } },
  });
}

interface SeenRequest {
  method: string;
  url: string;
  encoding: string | undefined;
  body: Buffer;
}

/** A real HTTP server standing in for a gateway: answers `status(n)` to the n-th request (from 0). */
async function startFakeGateway(status: (index: number) => number) {
  const requests: SeenRequest[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const index = requests.push({ method: request.method ?? '', url: request.url ?? '', encoding: request.headers['content-encoding'], body: Buffer.concat(chunks) }) - 1;
      response.writeHead(status(index)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('npx telemetry replay into the real pipeline', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline('replay-cli');
  });
  afterAll(async () => {
    await p.stop();
  });

  it('sends packed logs and "<docId>\\t<json>" files; the records reach storage and the error store', async () => {
    const storedId = randomUUID();
    const badJsonId = randomUUID();
    // A storage-named compressed file (read like stored files) and a plain hand-made one without a final newline.
    const gzFile = path.join(p.env.dir, 'pings.log.gz');
    await writeFile(gzFile, gzipSync(`${storedId}\t${classicPing()}\n`));
    const tsvFile = path.join(p.env.dir, 'hand-made.tsv');
    await writeFile(tsvFile, `\n${badJsonId}\t{"ver": 1,`);

    const { code, stdout, stderr } = await runCli(['replay', TELEMETRY1, UNICODE, gzFile, tsvFile, '--to', p.baseUrl]);
    expect(stderr).toContain('replayed 5 record(s) from 4 file(s)');
    expect(stdout).toBe('200: 5\n');
    expect(code).toBe(0);

    const [real] = await packed(TELEMETRY1);
    const [unicode] = await packed(UNICODE);
    const realId = real?.path.split('/')[0] ?? '';
    const unicodeId = unicode?.path.split('/')[0] ?? '';
    await waitFor('the stored records', async () => {
      const lines = (await readAllLines(p.storageDir)).map((l) => l.line.split('\t')[0]);
      return lines.includes(realId) && lines.includes(storedId);
    });
    await waitFor('the filed records', async () => {
      const filed = (await readAllLines(p.errorsDir)).map(({ line }) => parseErrorLine(line));
      const typeOf = (id: string) => filed.find((entry) => entry?.docId === id)?.record.type;
      return typeOf(unicodeId) === 'missing_revision' && typeOf(badJsonId) === 'bad_json';
    });
    const stored = (await readAllLines(p.storageDir)).find((l) => l.line.startsWith(realId));
    expect(stored?.file).toMatch(/^idle_daily\/Firefox\/release\/23\.0\.1\/20130814063812\./);
  });
});

describe('npx telemetry replay: HTTP behaviour', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'replay-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('retries a 503, then sends each record once, body bytes exact, gzip header only on gzip bodies', async () => {
    const gateway = await startFakeGateway((index) => (index === 0 ? 503 : 200));
    try {
      // One lane so that the 503 certainly hits the first record and its retry comes next.
      const args = ['replay', UNICODE, TELEMETRY1, '--to', gateway.url, '--concurrency', '1', '--retry-delay', '10'];
      const { code, stdout, stderr } = await runCli(args);
      expect(stdout).toBe('200: 3\n');
      expect(stderr).toContain('1 retried request');
      expect(code).toBe(0);

      const records = [...(await packed(UNICODE)), ...(await packed(TELEMETRY1))];
      const sent = [records[0], ...records];
      expect(gateway.requests).toHaveLength(4);
      for (const [index, request] of gateway.requests.entries()) {
        const record = sent[index];
        expect(request.method).toBe('POST');
        expect(request.url).toBe(`/submit/telemetry/${record?.path}`);
        expect(request.body.equals(record?.body ?? Buffer.alloc(0))).toBe(true);
      }
      // unicode.packed holds the ping gzipped, then raw.
      expect(gateway.requests.map((r) => r.encoding)).toEqual(['gzip', 'gzip', undefined, 'gzip']);
    } finally {
      await gateway.close();
    }
  });

  it('never retries a 4xx, and keeps the path prefix of --to', async () => {
    const gateway = await startFakeGateway(() => 400);
    try {
      const { code, stdout, stderr } = await runCli(['replay', TELEMETRY1, '--to', `${gateway.url}/edge/`, '--retry-delay', '10']);
      expect(stdout).toBe('400: 1\n');
      expect(stderr).toMatch(/failed\t.*telemetry1\.packed\t17caa68c-25f5-450a-9cce-7d31318846d8\t400/);
      expect(code).toBe(1);
      expect(gateway.requests.map((r) => r.url.split('/').slice(0, 4).join('/'))).toEqual(['/edge/submit/telemetry']);
    } finally {
      await gateway.close();
    }
  });

  it('gives up on a record after --max-attempts 5xx answers', async () => {
    const gateway = await startFakeGateway(() => 500);
    try {
      const { code, stdout } = await runCli(['replay', TELEMETRY1, '--to', gateway.url, '--max-attempts', '3', '--retry-delay', '10']);
      expect(stdout).toBe('500: 1\n');
      expect(code).toBe(1);
      expect(gateway.requests).toHaveLength(3);
    } finally {
      await gateway.close();
    }
  });

  it('counts network errors after retrying them', async () => {
    const gateway = await startFakeGateway(() => 200);
    await gateway.close(); // a port where nothing listens any more
    const { code, stdout, stderr } = await runCli(['replay', TELEMETRY1, '--to', gateway.url, '--max-attempts', '2', '--retry-delay', '10']);
    expect(stdout).toBe('network_error: 1\n');
    expect(stderr).toContain('ECONNREFUSED');
    expect(stderr).toContain('1 retried request');
    expect(code).toBe(1);
  });

  it('counts lines that are not records and exits 1, sending the rest', async () => {
    const gateway = await startFakeGateway(() => 200);
    try {
      const file = path.join(dir, 'mixed.txt');
      await writeFile(file, `no tab on this line\nok-1\t{"ver": 1}\n`);
      const { code, stdout } = await runCli(['replay', file, '--to', gateway.url]);
      expect(stdout).toBe('200: 1\ninvalid_line: 1\n');
      expect(code).toBe(1);
      expect(gateway.requests.map((r) => [r.url, r.encoding, r.body.toString()])).toEqual([['/submit/telemetry/ok-1', undefined, '{"ver": 1}']]);
    } finally {
      await gateway.close();
    }
  });

  it('stops at a file that cannot be read, keeping what was sent, and exits 1', async () => {
    const gateway = await startFakeGateway(() => 200);
    try {
      const corrupt = path.join(dir, 'corrupt.log.gz');
      await writeFile(corrupt, Buffer.concat([gzipSync('x').subarray(0, 4), Buffer.from('not deflate data at all')]));
      const { code, stdout, stderr } = await runCli(['replay', TELEMETRY1, corrupt, '--to', gateway.url]);
      expect(stdout).toBe('200: 1\n');
      expect(stderr).toContain(`cannot read ${corrupt}`);
      expect(code).toBe(1);
      expect(gateway.requests).toHaveLength(1);
    } finally {
      await gateway.close();
    }
  });

  it('exits 2 on usage errors without sending anything', async () => {
    const gateway = await startFakeGateway(() => 200);
    try {
      expect((await runCli(['replay', '--to', gateway.url])).code).toBe(2);
      expect((await runCli(['replay', TELEMETRY1])).code).toBe(2);
      expect((await runCli(['replay', TELEMETRY1, '--to', 'not a url'])).code).toBe(2);
      expect((await runCli(['replay', TELEMETRY1, '--to', 'ftp://127.0.0.1/'])).code).toBe(2);
      expect((await runCli(['replay', TELEMETRY1, '--to', gateway.url, '--concurrency', '0'])).code).toBe(2);
      expect((await runCli(['replay', TELEMETRY1, '--to', gateway.url, '--concurrency', 'many'])).code).toBe(2);
      expect((await runCli(['replay', TELEMETRY1, path.join(dir, 'missing.packed'), '--to', gateway.url])).code).toBe(2);
      expect(gateway.requests).toHaveLength(0);
    } finally {
      await gateway.close();
    }
  });
});
