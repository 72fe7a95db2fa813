import { describe, expect, it } from 'vitest';
import { convertPing, type ConversionResult } from '../src/conversion/convert-ping.js';
import { PingError, RevisionUnavailableError, type PingErrorType } from '../src/errors.js';
import type { HistogramDefinitions } from '../src/histograms/types.js';
import type { RevisionSource } from '../src/revisions/types.js';
import { FixtureRevisionSource, RELEASE_23_URL } from './support/fixture-revisions.js';
import { SPEC_CONVERTED, specSubmittedHistogram } from './support/spec-example.js';

const NAME = 'DOM_TIMERS_FIRED_PER_NATIVE_TIMEOUT';
const SUBMITTED = specSubmittedHistogram();
const CONVERTED = SPEC_CONVERTED;

/** A revision server that is down: every lookup is transient. */
class UnavailableRevisions implements RevisionSource {
  calls = 0;
  readonly error = new RevisionUnavailableError('hg.mozilla.org timed out');
  get(): Promise<HistogramDefinitions> {
    this.calls++;
    return Promise.reject(this.error);
  }
}

/** Deep copy through JSON, as every ping arrives. */
const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

async function refused(ping: unknown, type: PingErrorType, revisions: RevisionSource = new FixtureRevisionSource()): Promise<PingError> {
  const error: unknown = await convertPing(ping, revisions).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PingError);
  expect((error as PingError).type).toBe(type);
  return error as PingError;
}

/** What the worker stores must read back as the same converted ping. */
function expectStorable(result: ConversionResult): void {
  expect(JSON.parse(JSON.stringify(result.ping))).toEqual(result.ping);
}

const classic = () =>
  json({
    ver: 1,
    info: { reason: 'idle-daily', appName: 'Firefox', revision: RELEASE_23_URL },
    histograms: { [NAME]: SUBMITTED, NOT_DEFINED: SUBMITTED },
    simpleMeasurements: { uptime: 12 },
  });

describe('ver 1 (classic)', () => {
  it('converts histograms, drops unknown ones, becomes ver 2', async () => {
    const input = classic();
    const result = await convertPing(input, new FixtureRevisionSource());
    expect(result.ping).toEqual({ ...classic(), ver: 2, histograms: { [NAME]: CONVERTED } });
    expect(result.info).toEqual(classic().info);
    expect(result.droppedHistograms).toEqual(['NOT_DEFINED']);
    expect(result.convertedHistograms).toBe(1);
    expectStorable(result);
    expect(input).toEqual(classic()); // the submitted object is left as it was
  });

  it('without histograms needs no revision and fetches none', async () => {
    const revisions = new UnavailableRevisions();
    const ping = json({ ver: 1, info: { reason: 'saved-session' }, slowSQL: {} });
    const result = await convertPing(ping, revisions);
    expect(result.ping).toEqual({ ...ping, ver: 2 });
    expect([result.convertedHistograms, revisions.calls]).toEqual([0, 0]);
  });

  it.each([
    ['no info', { ver: 1, histograms: {} }],
    ['info that is an array', { ver: 1, info: [], histograms: {} }],
    ['info that is a string', { ver: 1, info: 'x' }],
    ['histograms that is null', { ver: 1, info: { revision: RELEASE_23_URL }, histograms: null }],
    ['histograms that is an array', { ver: 1, info: { revision: RELEASE_23_URL }, histograms: [] }],
  ])('%s is bad_payload', async (_what, ping) => {
    await refused(ping, 'bad_payload');
  });

  it.each([
    ['no revision', undefined],
    ['a null revision', null],
    ['a numeric revision', 42],
    ['a bare changeset id', 'a55c55edf302'],
    ['another scheme', 'ftp://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302'],
    ['a non-hex revision', 'http://hg.mozilla.org/releases/mozilla-release/rev/xyz'],
    ['an unknown revision', 'https://hg.mozilla.org/mozilla-central/rev/0123456789ab'],
  ])('%s is missing_revision', async (_what, revision) => {
    const ping = classic();
    ping.info.revision = revision as string;
    await refused(json(ping), 'missing_revision');
  });

  it('passes a transient revision error through unchanged', async () => {
    const revisions = new UnavailableRevisions();
    await expect(convertPing(classic(), revisions)).rejects.toBe(revisions.error);
  });

  it('a bad known histogram is conversion_error', async () => {
    const ping: { histograms: Record<string, unknown> } = classic();
    ping.histograms[NAME] = { ...SUBMITTED, values: { '2': 1 } };
    await refused(ping, 'conversion_error');
  });
});

describe('ver 2 and version 5 (already converted)', () => {
  it.each([
    ['ver 2', { ver: 2, info: { reason: 'idle-daily' }, histograms: { [NAME]: CONVERTED } }],
    ['version 5', { version: 5, type: 'main', info: { reason: 'main' }, payload: { histograms: { [NAME]: CONVERTED } } }],
  ])('%s is stored unchanged', async (_what, ping) => {
    const result = await convertPing(json(ping), new UnavailableRevisions());
    expect(result.ping).toEqual(ping);
    expect(result.info).toEqual(ping.info);
    expect([result.convertedHistograms, result.droppedHistograms]).toEqual([0, []]);
  });

  it.each([
    ['ver 2', { ver: 2, histograms: {} }],
    ['version 5', { version: 5, type: 'main', payload: {} }],
    ['version 5 with a null info', { version: 5, info: null }],
  ])('%s without an info object is bad_payload', async (_what, ping) => {
    await refused(ping, 'bad_payload');
  });
});

describe('ver 3 (Firefox OS 1.3)', () => {
  it('builds info from the flat deviceinfo.* fields, removes pingID, becomes ver 2', async () => {
    const ping = {
      ver: 3,
      pingID: 'abc',
      'deviceinfo.update_channel': 'beta',
      'deviceinfo.platform_build_id': '20140101',
      'deviceinfo.platform_version': '28.0',
      screenHeight: 480,
    };
    const result = await convertPing(json(ping), new UnavailableRevisions());
    const info = { reason: 'ftu', appName: 'FirefoxOS', appUpdateChannel: 'beta', appBuildID: '20140101', appVersion: '28.0' };
    expect(result.info).toEqual(info);
    const { pingID: _removed, ...kept } = ping;
    expect(result.ping).toEqual({ ...kept, ver: 2, info });
    expect(result.ping).not.toHaveProperty('pingID');
  });

  it('reads a nested deviceinfo object too', async () => {
    const ping = { ver: 3, deviceinfo: { update_channel: 'nightly', platform_version: '30.0' } };
    const result = await convertPing(ping, new UnavailableRevisions());
    expect(result.info).toEqual({ reason: 'ftu', appName: 'FirefoxOS', appUpdateChannel: 'nightly', appBuildID: 'UNKNOWN', appVersion: '30.0' });
  });

  it('uses UNKNOWN for every absent field', async () => {
    const result = await convertPing({ ver: 3, 'deviceinfo.update_channel': null }, new UnavailableRevisions());
    expect(result.info).toEqual({ reason: 'ftu', appName: 'FirefoxOS', appUpdateChannel: 'UNKNOWN', appBuildID: 'UNKNOWN', appVersion: 'UNKNOWN' });
  });

  it('refuses a field that is an object (bad_payload)', async () => {
    await refused({ ver: 3, 'deviceinfo.platform_version': { v: 1 } }, 'bad_payload');
  });
});

const APPLICATION = {
  architecture: 'x86-64',
  buildId: '20150309030224',
  name: 'Firefox',
  version: '39.0a1',
  vendor: 'Mozilla',
  platformVersion: '39.0a1',
  xpcomAbi: 'x86_64-gcc3',
  channel: 'nightly',
};
const unified = (type = 'main') =>
  json({
    type,
    id: 'e7916aaf-ab3e-924c-a0bf-47d54359f721',
    version: 4,
    application: APPLICATION,
    payload: { info: { revision: RELEASE_23_URL, reason: 'x' }, histograms: { [NAME]: SUBMITTED, GONE: {} }, keyedHistograms: { K: {} } },
  });

describe('version 4 (unified)', () => {
  it.each(['main', 'saved-session'])('%s: info from application, payload histograms converted, version 5', async (type) => {
    const result = await convertPing(unified(type), new FixtureRevisionSource());
    const info = {
      appName: 'Firefox',
      appUpdateChannel: 'nightly',
      appVersion: '39.0a1',
      appBuildID: '20150309030224',
      arch: 'x86-64',
      platformVersion: '39.0a1',
      xpcomAbi: 'x86_64-gcc3',
      vendor: 'Mozilla',
      reason: type,
    };
    const expected = unified(type);
    expect(result.ping).toEqual({ ...expected, version: 5, info, payload: { ...expected.payload, histograms: { [NAME]: CONVERTED } } });
    expect(result.info).toEqual(info);
    expect([result.droppedHistograms, result.convertedHistograms]).toEqual([['GONE'], 1]);
    expectStorable(result);
  });

  it('copies only the application fields present', async () => {
    const ping = { type: 'crash', version: 4, application: { name: 'Fennec', channel: null }, payload: { x: 1 } };
    const result = await convertPing(ping, new UnavailableRevisions());
    expect(result.info).toEqual({ appName: 'Fennec', reason: 'crash' });
  });

  it('other types keep their payload untouched and need no revision', async () => {
    const ping = { ...unified('activation'), payload: { histograms: 'not converted', anything: [1] } };
    const result = await convertPing(ping, new UnavailableRevisions());
    expect(result.ping.payload).toBe(ping.payload);
    expect(result.ping.version).toBe(5);
  });

  it.each<[string, (p: ReturnType<typeof unified>) => unknown]>([
    ['no type', ({ type: _t, ...rest }) => rest],
    ['an empty type', (p) => ({ ...p, type: '' })],
    ['a numeric type', (p) => ({ ...p, type: 4 })],
    ['no application', ({ application: _a, ...rest }) => rest],
    ['an array application', (p) => ({ ...p, application: [] })],
    ['no payload', ({ payload: _p, ...rest }) => rest],
    ['a string payload', (p) => ({ ...p, payload: '{}' })],
    ['a top-level info', (p) => ({ ...p, info: {} })],
    ['main without payload.info', (p) => ({ ...p, payload: { histograms: {} } })],
    ['main with payload.info null', (p) => ({ ...p, payload: { info: null, histograms: {} } })],
    ['main without payload.histograms', (p) => ({ ...p, payload: { info: { revision: RELEASE_23_URL } } })],
    ['main with payload.histograms an array', (p) => ({ ...p, payload: { info: { revision: RELEASE_23_URL }, histograms: [] } })],
    ['an application name that is an object', (p) => ({ ...p, application: { name: { x: 1 } } })],
  ])('%s is bad_payload', async (_what, change) => {
    await refused(change(unified()), 'bad_payload');
  });

  it('main without payload.info.revision is missing_revision', async () => {
    await refused({ ...unified(), payload: { info: {}, histograms: {} } }, 'missing_revision');
  });
});

describe('versions', () => {
  it('no version field: bad_payload "Missing payload version"', async () => {
    expect((await refused({ info: {} }, 'bad_payload')).message).toBe('Missing payload version');
  });

  it.each([
    ['ver 0', { ver: 0 }],
    ['ver 4', { ver: 4, info: {} }],
    ['ver "1"', { ver: '1', info: {} }],
    ['ver null', { ver: null }],
    ['version 3', { version: 3, info: {} }],
    ['version 6', { version: 6, info: {} }],
    ['version 4.5', { version: 4.5 }],
  ])('%s is an unknown version (bad_payload)', async (_what, ping) => {
    expect((await refused(ping, 'bad_payload')).message).toMatch(/Unknown payload version/);
  });

  it.each([null, [], 'ping', 42, true])('%j is not a ping (bad_payload)', async (ping) => {
    await refused(ping, 'bad_payload');
  });
});
