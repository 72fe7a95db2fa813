/**
 * The workers' counter entries (pure): what comes from the URL is
 * percent-decoded once, what comes from the converted ping is not.
 */
import type { ConvertedRecord } from '@telemetry/shared/conversion/submission';
import { DEFAULT_SCHEMA_FILE } from '@telemetry/shared/config/domain';
import { loadDimensionSchema, type DimensionSchema } from '@telemetry/shared/dimensions/schema';
import type { ErrorEntry } from '@telemetry/shared/storage/error-store';
import { beforeAll, describe, expect, it } from 'vitest';
import { outcomeEntries } from '../src/outcome-stats.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);

function record(info: Record<string, unknown>, generic?: ConvertedRecord['generic']): ConvertedRecord {
  return { docId: 'd', json: '{}', dimensions: [], info, dir: 'x', fileStem: 'y', droppedHistograms: [], convertedHistograms: 0, generic };
}

function filed(path: string, generic?: ErrorEntry['generic']): ErrorEntry {
  return { docId: 'd', type: 'bad_payload', message: 'm', path, generic, receivedAtMs: NOW, body: new Uint8Array() };
}

describe('outcomeEntries', () => {
  let schema: DimensionSchema;
  beforeAll(async () => {
    schema = await loadDimensionSchema(DEFAULT_SCHEMA_FILE);
  });

  it('counts an error by its URL path`s values, percent-decoded once (a bad encoding as sent)', () => {
    const [decoded, bad] = outcomeEntries({ stored: [], filed: [filed('d/main/Firefox/x%20y/release/%252e%252e'), filed('d/main/Firefox/%E0%A4%A/release/1')] }, schema, NOW);
    expect(decoded).toMatchObject({ kind: 'error', errorType: 'bad_payload', count: 1, values: { appVersion: 'x y', appBuildID: '%2e%2e', channel: 'release' } });
    expect(bad?.values.appVersion).toBe('%E0%A4%A');
  });

  it('counts a Glean error by its URL namespace and docType, decoded', () => {
    const [entry] = outcomeEntries({ stored: [], filed: [filed('firefox%2Ddesktop/base%20line/1/d', { namespace: 'firefox%2Ddesktop', docType: 'base%20line', docVersion: '1' })] }, schema, NOW);
    expect(entry?.values).toEqual({ namespace: 'firefox-desktop', docType: 'base line' });
  });

  it('counts a persisted ping by its info as written: never decoded', () => {
    const [entry] = outcomeEntries({ stored: [record({ reason: 'main', appName: 'Firefox', appVersion: 'x%20y', appUpdateChannel: 'release', appBuildID: '%252e' })], filed: [] }, schema, NOW);
    expect(entry).toMatchObject({ kind: 'persisted', atMs: NOW, values: { appVersion: 'x%20y', appBuildID: '%252e' } });
  });

  it('counts a persisted Glean ping`s channel (from its client_info) as stored, not decoded', () => {
    const [entry] = outcomeEntries({ stored: [record({}, { namespace: 'firefox-desktop', docType: 'baseline', docVersion: '1', channel: 'nightly%20x' })], filed: [] }, schema, NOW);
    expect(entry?.values).toEqual({ namespace: 'firefox-desktop', docType: 'baseline', channel: 'nightly%20x' });
  });
});
