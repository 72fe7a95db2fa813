/**
 * SPEC 2: the path is taken exactly as sent, never normalised, on the real
 * server (in-process `app.request()` builds a URL, which normalises dot
 * segments before the app sees them). A `.`/`..`/`%2e%2e` segment is a value
 * like any other; `/x/../submit/telemetry/ID` is not a submission path.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAllLines, startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitFor } from '../support/services.js';

const BODY = JSON.stringify({ ver: 2, info: { reason: 'idle-daily', appName: 'Firefox', appUpdateChannel: 'release', appVersion: '23.0.1', appBuildID: '20130814063812' } });

/** POST with the request target exactly as given (fetch would normalise it). */
function postRaw(port: number, target: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: target, headers: { 'content-length': Buffer.byteLength(BODY) } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end(BODY);
  });
}

describe('the submission path as sent', () => {
  let p: TestPipeline;
  beforeAll(async () => {
    p = await startTestPipeline('path-as-sent');
  });
  afterAll(async () => {
    await p.stop();
  });

  it('takes dot segments as values and stores the ping', async () => {
    const stamp = Date.now();
    const dotted = `dots-${stamp}`;
    const encoded = `encoded-${stamp}`;
    expect(await postRaw(p.gateway.port, `/submit/telemetry/${dotted}/idle-daily/Firefox/../release/20130814063812`)).toBe(200);
    expect(await postRaw(p.gateway.port, `/submit/telemetry/${encoded}/idle-daily/Firefox/%2e%2e/release/.`)).toBe(200);
    await waitFor('both stored', async () => {
      const ids = new Set((await readAllLines(p.storageDir)).map((l) => l.line.split('\t')[0]));
      return ids.has(dotted) && ids.has(encoded);
    });
  });

  it('refuses a path that only normalises to a submission path, and enqueues nothing', async () => {
    const before = await p.env.queuedSubmissions(p.env.topology.persistQueue);
    expect(await postRaw(p.gateway.port, `/foo/../submit/telemetry/normalised-${Date.now()}`)).toBe(404);
    // As sent, this is the generic form (namespace x) with `..` as its docType: 400.
    expect(await postRaw(p.gateway.port, `/submit/x/../telemetry/normalised-${Date.now()}`)).toBe(400);
    expect(await postRaw(p.gateway.port, `/submit/firefox-desktop/baseline/1/../../telemetry/normalised-${Date.now()}`)).toBe(400);
    expect(await p.env.queuedSubmissions(p.env.topology.persistQueue)).toBe(before);
  });
});
