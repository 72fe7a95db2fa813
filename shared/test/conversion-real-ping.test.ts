import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { convertPing } from '../src/conversion/convert-ping.js';
import { decodeBody, parsePingJson } from '../src/conversion/decode-body.js';
import { PingError } from '../src/errors.js';
import { FixtureRevisionSource, loadFixtureDefinitions } from './support/fixture-revisions.js';
import { fixturePath } from '../../test/support/fixtures.js';

interface PackedRecord {
  path: string;
  receivedAt: number;
  body: Uint8Array;
}

/** Minimal reader of the 2013 packed log format (fixtures README); stops at trailing garbage. */
function readPacked(file: string): PackedRecord[] {
  const data = readFileSync(file);
  const records: PackedRecord[] = [];
  let offset = 0;
  while (offset + 15 <= data.length && data[offset] === 0x1e) {
    const pathLength = data.readUInt16LE(offset + 1);
    const bodyLength = data.readUInt32LE(offset + 3);
    const receivedAt = Number(data.readBigUInt64LE(offset + 7));
    const pathStart = offset + 15;
    const bodyStart = pathStart + pathLength;
    records.push({
      path: data.toString('utf8', pathStart, bodyStart),
      receivedAt,
      body: data.subarray(bodyStart, bodyStart + bodyLength),
    });
    offset = bodyStart + bodyLength;
  }
  return records;
}

const MAX_UNCOMPRESSED = 10 * 1024 * 1024;
type SubmittedHistogram = { values: Record<string, number> };

describe('the real Firefox 23.0.1 idle-daily ping (telemetry1.packed)', () => {
  const [record, ...rest] = readPacked(fixturePath('pings', 'telemetry1.packed'));
  if (record === undefined) throw new Error('telemetry1.packed holds no record');
  const text = decodeBody(record.body, { maxUncompressedBytes: MAX_UNCOMPRESSED });
  const submitted = parsePingJson(text) as { info: Record<string, unknown>; histograms: Record<string, SubmittedHistogram> };

  it('is one gzipped record of 77,740 bytes of JSON with 328 histograms', () => {
    expect(rest).toHaveLength(0);
    expect([record.body[0], record.body[1]]).toEqual([0x1f, 0x8b]);
    expect(Buffer.byteLength(text)).toBe(77_740);
    expect(Object.keys(submitted.histograms)).toHaveLength(328);
  });

  it('converts against a55c55edf302: 326 histograms kept, 2 dropped', async () => {
    const result = await convertPing(submitted, new FixtureRevisionSource());
    expect(result.convertedHistograms).toBe(326);
    expect(Object.keys(result.ping.histograms as object)).toHaveLength(326);
    expect([...result.droppedHistograms].sort()).toEqual(['HTTP_OFFLINE_CACHE_DOCUMENT_LOAD', 'MIXED_CONTENT_PAGE_LOAD']);
    expect(result.ping.ver).toBe(2);
  });

  it('gives the dimensions of its URL path in info', async () => {
    const result = await convertPing(submitted, new FixtureRevisionSource());
    // URL order: docId/reason/appName/appVersion/appUpdateChannel/appBuildID
    const [, reason, appName, appVersion, appUpdateChannel, appBuildID] = record.path.split('/');
    expect({ reason, appName, appUpdateChannel, appVersion, appBuildID }).toEqual({
      reason: 'idle-daily',
      appName: 'Firefox',
      appUpdateChannel: 'release',
      appVersion: '23.0.1',
      appBuildID: '20130814063812',
    });
    expect(result.info).toMatchObject({ reason, appName, appUpdateChannel, appVersion, appBuildID });
  });

  it('keeps every count in the bucket of its key and every statistic', async () => {
    const definitions = loadFixtureDefinitions('releases/mozilla-release', 'a55c55edf302');
    const result = await convertPing(submitted, new FixtureRevisionSource());
    const converted = result.ping.histograms as Record<string, number[]>;
    const original = JSON.parse(text) as typeof submitted;
    for (const [name, array] of Object.entries(converted)) {
      const definition = definitions.get(name) ?? definitions.get(name.slice('STARTUP_'.length));
      if (definition === undefined) throw new Error(`no definition for ${name}`);
      const source = original.histograms[name] as SubmittedHistogram & Record<string, unknown>;
      expect(array, name).toHaveLength(definition.bucketCount + 5);
      for (const [key, count] of Object.entries(source.values)) {
        expect(array[definition.bounds.indexOf(Number(key))], `${name}[${key}]`).toBe(count);
      }
      const total = Object.values(source.values).reduce((a, b) => a + b, 0);
      expect(array.slice(0, definition.bucketCount).reduce((a, b) => a + b, 0), name).toBe(total);
      const statistics = ['sum', 'log_sum', 'log_sum_squares', 'sum_squares_lo', 'sum_squares_hi'].map((k) => source[k] ?? -1);
      expect(array.slice(definition.bucketCount), name).toEqual(statistics);
    }
  });

  it('serialises to a single line of minimal JSON that reads back the same', async () => {
    const result = await convertPing(submitted, new FixtureRevisionSource());
    const line = JSON.stringify(result.ping);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual(result.ping);
    expect(line.length).toBeLessThan(text.length);
  });
});

describe('the real unified saved-session ping (unicode.packed)', () => {
  const [record] = readPacked(fixturePath('pings', 'unicode.packed'));
  if (record === undefined) throw new Error('unicode.packed holds no record');
  const text = decodeBody(record.body, { maxUncompressedBytes: MAX_UNCOMPRESSED });

  it('names revision eab4a81e4457, which the fixtures do not hold: missing_revision', async () => {
    const ping = parsePingJson(text);
    const error: unknown = await convertPing(ping, new FixtureRevisionSource()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PingError);
    expect((error as PingError).type).toBe('missing_revision');
  });
});

describe('the real unified ping against a revision the fixtures hold', () => {
  it('becomes version 5 with info from application, its histogram dropped, the rest untouched', async () => {
    const [record] = readPacked(fixturePath('pings', 'unicode.packed'));
    if (record === undefined) throw new Error('unicode.packed holds no record');
    const ping = parsePingJson(decodeBody(record.body, { maxUncompressedBytes: MAX_UNCOMPRESSED })) as {
      application: Record<string, string>;
      payload: { info: Record<string, unknown>; histograms: object; keyedHistograms: object };
    };
    // Only the revision is changed, so that the lookup succeeds.
    ping.payload.info.revision = 'https://hg.mozilla.org/mozilla-central/rev/ad0ae007aa9e';
    const result = await convertPing(ping, new FixtureRevisionSource());
    const { application } = ping;
    expect(result.info).toEqual({
      appName: application.name,
      appUpdateChannel: application.channel,
      appVersion: application.version,
      appBuildID: application.buildId,
      arch: application.architecture,
      platformVersion: application.platformVersion,
      xpcomAbi: application.xpcomAbi,
      vendor: application.vendor,
      reason: 'saved-session',
    });
    expect(result.ping.version).toBe(5);
    expect(result.droppedHistograms).toEqual(Object.keys(ping.payload.histograms));
    const payload = result.ping.payload as typeof ping.payload;
    expect(payload.histograms).toEqual({});
    expect(payload.keyedHistograms).toBe(ping.payload.keyedHistograms);
    expect(JSON.stringify(result.ping)).toContain('Wikipédia');
  });
});
