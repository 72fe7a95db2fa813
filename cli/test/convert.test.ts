import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parsePackedBuffer } from '@telemetry/shared/packed/packed-reader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTelemetry } from '../../test/support/cli.js';
import { fixturePath } from '../../test/support/fixtures.js';
import { startHgServer, type HgServer } from '../../test/support/hg-server.js';

const runCli = (args: string[], stdin: string, env: Record<string, string> = {}) => runTelemetry(args, { stdin, env });


async function packedLines(file: string): Promise<{ docId: string; json: string }[]> {
  const { records } = parsePackedBuffer(await readFile(fixturePath('pings', file)));
  return records.map((record) => {
    const body = record.body[0] === 0x1f && record.body[1] === 0x8b ? gunzipSync(record.body) : record.body;
    return { docId: record.path.split('/')[0] ?? '', json: body.toString('utf8') };
  });
}

describe('npx telemetry convert', () => {
  let hg: HgServer;
  let cacheDir: string;
  beforeAll(async () => {
    hg = await startHgServer();
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'convert-cli-'));
  });
  afterAll(async () => {
    await hg.close();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('converts the real ping, refuses the unified pings with an unknown revision, in input order', async () => {
    const real = await packedLines('telemetry1.packed');
    const unicode = await packedLines('unicode.packed');
    const bad = { docId: 'bad-json-1', json: '{"ver": 1, ' };
    const input = [unicode[0], real[0], bad, unicode[1]].map((l) => `${l?.docId}\t${l?.json}`).join('\n') + '\n';
    const args = ['convert', '--date', '20130910', '--hg-server', hg.url, '--revision-cache', cacheDir, '--with-path'];
    const { code, stdout, stderr } = await runCli(args, input);
    expect(code).toBe(0);

    const outLines = stdout.trimEnd().split('\n');
    expect(outLines).toHaveLength(1);
    const [docId, storagePath, json] = outLines[0]?.split('\t') ?? [];
    expect(docId).toBe(real[0]?.docId);
    expect(storagePath).toBe('idle_daily/Firefox/release/23.0.1/20130814063812.20130910.v2');
    const converted = JSON.parse(json ?? '{}') as { ver: number; histograms: Record<string, number[]> };
    expect(converted.ver).toBe(2);
    expect(Object.keys(converted.histograms)).toHaveLength(326);

    const errLines = stderr.trimEnd().split('\n').map((line) => line.split('\t'));
    expect(errLines.map(([id, type]) => [id, type])).toEqual([
      [unicode[0]?.docId, 'missing_revision'],
      ['bad-json-1', 'bad_json'],
      [unicode[1]?.docId, 'missing_revision'],
    ]);
    // The revision was fetched once over HTTP and is now in the disk cache.
    expect(hg.requests.filter((r) => r.includes('a55c55edf302'))).toHaveLength(1);
  });

  it('prints exactly "<docId>\\t<json>" without --with-path', async () => {
    const real = await packedLines('telemetry1.packed');
    const { code, stdout } = await runCli(
      ['convert', '--date', '20130910', '--hg-server', hg.url, '--revision-cache', cacheDir],
      `${real[0]?.docId}\t${real[0]?.json}\n`,
    );
    expect(code).toBe(0);
    const fields = stdout.trimEnd().split('\t');
    expect(fields).toHaveLength(2);
    expect(JSON.parse(fields[1] ?? '')).toHaveProperty('ver', 2);
  });

  it('exits 2 on a usage error', async () => {
    expect((await runCli(['convert', '--date', '2013-09-10'], '')).code).toBe(2);
    expect((await runCli(['convert', '--no-such-option'], '')).code).toBe(2);
    expect((await runCli(['convert', '--schema', '/nonexistent/schema.json'], '')).code).toBe(2);
    const badEnv = await runCli(['convert'], '', { MAX_UNCOMPRESSED: 'lots' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('MAX_UNCOMPRESSED');
  });
});
