import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTelemetry } from '../../test/support/cli.js';
import { startHgServer, type HgServer } from '../../test/support/hg-server.js';

const RELEASE = 'https://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302';
const CENTRAL = 'https://hg.mozilla.org/mozilla-central/rev/8d3810543edc';
const UNKNOWN = 'https://hg.mozilla.org/mozilla-central/rev/0123456789ab';

describe('telemetry revisions warm', () => {
  let hg: HgServer;
  let cacheDir: string;
  beforeAll(async () => {
    hg = await startHgServer();
    cacheDir = await mkdtemp(path.join(os.tmpdir(), 'warm-'));
  });
  afterAll(async () => {
    await hg.close();
    await rm(cacheDir, { recursive: true, force: true });
  });
  const warm = (...args: string[]) => runTelemetry(['revisions', 'warm', '--hg-server', hg.url, '--revision-cache', cacheDir, ...args]);
  const lines = (stdout: string) => stdout.trim().split('\n').map((line) => line.split('\t'));

  it('fetches each revision into the disk cache, then finds it there without a request', async () => {
    const first = await warm(RELEASE, CENTRAL);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const fetched = lines(first.stdout);
    expect(fetched.map(([url, outcome]) => [url, outcome])).toEqual([
      [RELEASE, 'fetched'],
      [CENTRAL, 'fetched'],
    ]);
    expect(fetched[0]?.[2]).toMatch(/^\d+ histograms$/);
    await access(path.join(cacheDir, 'releases', 'mozilla-release', 'a55c55edf302', 'Histograms.json'));
    const requestsBefore = hg.requests.length;

    const second = await warm(RELEASE);
    expect(lines(second.stdout)).toEqual([[RELEASE, 'cached', fetched[0]?.[2]]]);
    expect(hg.requests.length).toBe(requestsBefore);
  });

  it('reports an unknown revision as missing and an unreachable server as unavailable, exit 1', async () => {
    const listFile = path.join(cacheDir, 'list.txt');
    await writeFile(listFile, `# revisions of the next release\n${UNKNOWN}\n\n`);
    const missing = await warm('--file', listFile);
    expect(missing.code).toBe(1);
    expect(lines(missing.stdout)).toEqual([[UNKNOWN, 'missing', expect.stringContaining('404')]]);

    const down = await runTelemetry(['revisions', 'warm', '--hg-server', 'http://127.0.0.1:9', '--revision-cache', cacheDir, CENTRAL.replace('8d3810543edc', 'ad0ae007aa9e')]);
    expect(down.code).toBe(1);
    expect(lines(down.stdout)[0]?.[1]).toBe('unavailable');
  });

  it('is a usage error (exit 2) without revisions or with a bad server URL', async () => {
    expect((await runTelemetry(['revisions', 'warm', '--revision-cache', cacheDir])).code).toBe(2);
    const badServer = await runTelemetry(['revisions', 'warm', '--hg-server', 'ftp://x', RELEASE]);
    expect(badServer.code).toBe(2);
    expect(badServer.stderr).toContain('--hg-server');
  });
});
