/**
 * Generic-form (Glean) pings to stored records, without I/O: the Glean shape
 * check, the generic layout and its allowed values per namespace, and that
 * the layout can never meet the telemetry layout.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GENERIC_SCHEMA_FILE, DEFAULT_SCHEMA_FILE } from '../src/config/domain.js';
import { sanitizeDimensionValue, isSanitized } from '../src/dimensions/sanitize.js';
import { loadDimensionSchema } from '../src/dimensions/schema.js';
import { dimensionValues, GENERIC_DIMENSIONS, GENERIC_LAYOUT_DIR, genericStorageLocation, parseStorageFileName, storageLocation } from '../src/dimensions/storage-path.js';
import { PingError, SchemaError } from '../src/errors.js';
import { asGleanPing, convertGenericDecoded } from '../src/glean/convert-glean.js';
import { GenericSchemas } from '../src/glean/generic-schema.js';
import { baselinePing, deletionRequestPing } from '../../test/support/glean.js';

const RECEIVED = Date.UTC(2026, 0, 15, 9, 30, 12);
const DOC_ID = '8f2bb6a4-5b7e-4d8c-9a1e-2f6c3d4b5a69';
const BASELINE = { docId: DOC_ID, receivedAtMs: RECEIVED, generic: { namespace: 'firefox-desktop', docType: 'baseline', docVersion: '1' } };
const bytes = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

let schemas: GenericSchemas;
beforeAll(async () => {
  schemas = await GenericSchemas.load(DEFAULT_GENERIC_SCHEMA_FILE);
});

function pingErrorOf(run: () => unknown): PingError {
  try {
    run();
  } catch (error) {
    if (error instanceof PingError) return error;
    throw error;
  }
  throw new Error('no PingError');
}

describe('convertGenericDecoded', () => {
  it('stores a Glean ping as sent (minimal JSON), under namespace/docType/docVersion/channel and version.date', () => {
    const ping = baselinePing();
    // Pretty-printed on purpose: the stored line must still be one line.
    const record = convertGenericDecoded(BASELINE, bytes(JSON.stringify(ping, null, 2)), schemas);
    expect(record.json).toBe(JSON.stringify(ping));
    expect(record.json).not.toContain('\n');
    expect(record.dimensions).toEqual(['firefox_desktop', 'baseline', '1', 'esr', '153.8.0esr', '20260115']);
    expect(record.dir).toBe(`${GENERIC_LAYOUT_DIR}/firefox_desktop/baseline/1/esr`);
    expect(record.fileStem).toBe('153_8_0esr.20260115.v2');
    expect(record.generic).toEqual({ namespace: 'firefox-desktop', docType: 'baseline', docVersion: '1', channel: 'esr' });
    expect(record.convertedHistograms).toBe(0);
    // The file name parses like every storage file name (MapReduce filters on it before opening anything).
    expect(parseStorageFileName(`${record.fileStem}.w1.log`)?.dims).toEqual(['153_8_0esr', '20260115']);
    // Rotated files carry the writer's millisecond sequence, 13 digits.
    expect(parseStorageFileName(`${record.fileStem}.test_w0.1796159609737.log.gz`)).toMatchObject({ dims: ['153_8_0esr', '20260115'], seq: '1796159609737' });
  });

  it('sanitises like the telemetry layout: deletion-request is deletion_request; missing values are UNKNOWN, others OTHER', () => {
    const deletion = convertGenericDecoded({ ...BASELINE, generic: { ...BASELINE.generic, docType: 'deletion-request' } }, bytes(deletionRequestPing('c1')), schemas);
    expect(deletion.dir).toBe(`${GENERIC_LAYOUT_DIR}/firefox_desktop/deletion_request/1/esr`);
    const without = convertGenericDecoded(BASELINE, bytes(baselinePing({ channel: undefined, displayVersion: null })), schemas);
    expect(without.dimensions.slice(3, 5)).toEqual(['UNKNOWN', 'UNKNOWN']);
    const odd = convertGenericDecoded(BASELINE, bytes(baselinePing({ channel: 'my-own-build', displayVersion: { major: 153 } })), schemas);
    expect(odd.dimensions.slice(3, 5)).toEqual(['OTHER', 'OTHER']);
    expect(odd.generic?.channel).toBe('OTHER');
    const hostile = convertGenericDecoded(BASELINE, bytes(baselinePing({ channel: 'release', displayVersion: '../../../etc/passwd' })), schemas);
    expect(hostile.fileStem).toBe('_________etc_passwd.20260115.v2');
    expect(hostile.dir.split('/')).not.toContain('..');
  });

  it.each([
    ['an array', '[]', 'not a JSON object'],
    ['a string', '"ping"', 'not a JSON object'],
    ['null', 'null', 'not a JSON object'],
    ['a legacy telemetry ping', JSON.stringify({ version: 4, type: 'main', application: {}, payload: {} }), 'ping_info is missing'],
    ['ping_info not an object', JSON.stringify({ ping_info: [], client_info: {} }), 'ping_info is an array'],
    ['client_info missing', JSON.stringify({ ping_info: {} }), 'client_info is missing'],
    ['client_info null', JSON.stringify({ ping_info: {}, client_info: null }), 'client_info is null'],
    ['too deep', `{"ping_info":{},"client_info":{},"metrics":${'['.repeat(150)}${']'.repeat(150)}}`, 'nests deeper'],
    ['a number out of range', '{"ping_info":{"seq":1e400},"client_info":{}}', 'out of range'],
  ])('refuses %s as bad_payload, keeping the decoded text', (_name, text, message) => {
    const error = pingErrorOf(() => convertGenericDecoded(BASELINE, bytes(text), schemas));
    expect(error.type).toBe('bad_payload');
    expect(error.message).toContain(message);
    expect(error.decodedBody).toBe(text);
  });

  it('files bad JSON and bad UTF-8 as today', () => {
    expect(pingErrorOf(() => convertGenericDecoded(BASELINE, bytes('{"ping_info":'), schemas)).type).toBe('bad_json');
    expect(pingErrorOf(() => convertGenericDecoded(BASELINE, Buffer.from([0x7b, 0xff, 0x7d]), schemas)).type).toBe('corrupted_data');
  });

  it('asGleanPing accepts any object with ping_info and client_info objects', () => {
    expect(asGleanPing({ ping_info: {}, client_info: {} })).toEqual({ ping_info: {}, client_info: {} });
  });
});

describe('the generic layout never meets the telemetry layout', () => {
  it('is under a directory name no sanitised value can be', () => {
    expect(isSanitized(GENERIC_LAYOUT_DIR)).toBe(false);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom(GENERIC_LAYOUT_DIR, `${GENERIC_LAYOUT_DIR}/x`, '-', '..')), { minLength: 2, maxLength: 8 }),
        (values) => sanitizeDimensionValue(values[0] ?? '') !== GENERIC_LAYOUT_DIR && storageLocation(values).dir.split('/')[0] !== GENERIC_LAYOUT_DIR,
      ),
      { numRuns: 300 },
    );
    // The real telemetry schema, with the reserved name sent as a value: sanitised away.
    expect(storageLocation(['generic-pings', 'Firefox', 'release', '1', '2', '20260115']).dir).toBe('generic_pings/Firefox/release/1');
  });

  it('needs exactly the generic dimensions', () => {
    expect(GENERIC_DIMENSIONS).toEqual(['namespace', 'docType', 'docVersion', 'channel', 'version', 'submission_date']);
    expect(() => genericStorageLocation(['a', 'b'])).toThrow(RangeError);
  });
});

describe('GenericSchemas: allowed values per namespace', () => {
  it('ships a default for every namespace: any docType, docVersion and version, the known channels', () => {
    const schema = schemas.forNamespace('org-mozilla-fenix');
    expect(schema.dimensions.map((d) => d.field_name)).toEqual([...GENERIC_DIMENSIONS]);
    expect(dimensionValues(schema, { namespace: 'org-mozilla-fenix', docType: 'metrics', docVersion: '1', channel: 'nightly', version: '150.0a1' }, RECEIVED)).toEqual([
      'org_mozilla_fenix',
      'metrics',
      '1',
      'nightly',
      '150.0a1',
      '20260115',
    ]);
  });

  it('takes a namespace\'s own values, the default\'s for the fields it leaves out', () => {
    const parsed = GenericSchemas.parse({
      version: 1,
      default: { channel: ['release'], version: { min: 100 } },
      namespaces: { 'firefox-desktop': { channel: ['release', 'esr'], docType: ['baseline', 'metrics', 'deletion-request'] } },
    });
    const desktop = parsed.forNamespace('firefox-desktop');
    const values = (namespace: string, docType: string, channel: string, version: string) =>
      dimensionValues(parsed.forNamespace(namespace), { namespace, docType, docVersion: '1', channel, version }, RECEIVED);
    expect(desktop.dimensions.map((d) => d.allowed_values)).toEqual(['*', ['baseline', 'metrics', 'deletion-request'], '*', ['release', 'esr'], { min: 100 }, '*']);
    expect(values('firefox-desktop', 'events', 'esr', '153')).toEqual(['firefox_desktop', 'OTHER', '1', 'esr', '153', '20260115']);
    expect(values('other', 'events', 'esr', '99')).toEqual(['other', 'events', '1', 'OTHER', 'OTHER', '20260115']);
  });

  it.each([
    ['another format version', { version: 2 }, 'version'],
    ['an unknown field', { version: 1, default: { appName: '*' } }, 'appName'],
    ['a namespace that is not one', { version: 1, namespaces: { Firefox: {} } }, 'not a generic namespace'],
    ['telemetry as a namespace', { version: 1, namespaces: { telemetry: {} } }, 'not a generic namespace'],
    ['bad allowed values', { version: 1, default: { channel: { min: 3, max: 1 } } }, 'min is greater than max'],
    ['deletion requests put elsewhere', { version: 1, namespaces: { 'firefox-desktop': { docType: ['baseline'] } } }, 'must allow "deletion-request"'],
  ])('refuses %s with a SchemaError saying where', (_name, json, message) => {
    expect(() => GenericSchemas.parse(json, 'test.json')).toThrow(SchemaError);
    expect(() => GenericSchemas.parse(json, 'test.json')).toThrow(message);
  });
});

describe('the default telemetry schema takes today\'s Firefox values (issue 16)', () => {
  it('keeps esr and the unified ping types instead of OTHER', async () => {
    const schema = await loadDimensionSchema(DEFAULT_SCHEMA_FILE);
    const stored = (reason: string, channel: string) =>
      dimensionValues(schema, { reason, appName: 'Firefox', appUpdateChannel: channel, appVersion: '153.8.0', appBuildID: '20260112100402' }, RECEIVED).slice(0, 3);
    for (const channel of ['release', 'esr', 'beta', 'nightly', 'aurora']) expect(stored('main', channel)[2]).toBe(channel);
    const types = ['main', 'event', 'new-profile', 'first-shutdown', 'deletion-request', 'saved-session', 'crash', 'modules', 'update', 'health', 'heartbeat', 'idle-daily'];
    for (const type of types) expect(stored(type, 'esr')[0]).toBe(sanitizeDimensionValue(type));
    expect(stored('made-up', 'default')).toEqual(['OTHER', 'Firefox', 'OTHER']);
  });
});
