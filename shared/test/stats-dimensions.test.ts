/**
 * The stats dimension values, pure: URL values percent-decoded once (then
 * the schema's mapping and the length cut), ping values never decoded.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCHEMA_FILE } from '../src/config/domain.js';
import { loadDimensionSchema, type DimensionSchema } from '../src/dimensions/schema.js';
import { decodeUrlValue, genericStatsValues, statsValues, urlStatsValues } from '../src/stats/dimensions.js';

describe('decodeUrlValue', () => {
  it('decodes percent-encoded UTF-8', () => {
    expect(decodeUrlValue('x%20y')).toBe('x y');
    expect(decodeUrlValue('caf%C3%A9')).toBe('café');
    expect(decodeUrlValue('%F0%9F%A6%8A')).toBe('🦊');
  });

  it('decodes once only: an encoded percent sign stays a percent sign', () => {
    expect(decodeUrlValue('%252e%252e')).toBe('%2e%2e');
    expect(decodeUrlValue('%25')).toBe('%');
  });

  it('keeps `+` (a plus sign in a path, not a space) and text without a percent sign as sent', () => {
    expect(decodeUrlValue('a+b')).toBe('a+b');
    expect(decodeUrlValue('23.0.1')).toBe('23.0.1');
    expect(decodeUrlValue('')).toBe('');
  });

  it('keeps an invalid encoding as sent', () => {
    for (const raw of ['%E0%A4%A', '%', '100%', '%zz', '%C3', '%ED%A0%80' /* a lone surrogate in UTF-8 */, '%FF']) {
      expect(decodeUrlValue(raw)).toBe(raw);
    }
  });

  it('keeps a value that decodes to a control character as sent', () => {
    for (const raw of ['a%00b', 'line%0Abreak', '%1F', '%7F']) expect(decodeUrlValue(raw)).toBe(raw);
  });
});

describe('stats values', () => {
  let schema: DimensionSchema;
  beforeAll(async () => {
    schema = await loadDimensionSchema(DEFAULT_SCHEMA_FILE);
  });

  it('maps decoded URL values through the schema (allowed, OTHER, UNKNOWN)', () => {
    const values = urlStatsValues(schema, { reason: 'saved%2Dsession', appName: 'Fire%66ox', appVersion: 'x%20y', appUpdateChannel: 'rel%20ease', appBuildID: '' });
    expect(values).toEqual({
      reason: 'saved-session',
      appName: 'Firefox',
      appVersion: 'x y',
      // Decoded, still not an allowed channel.
      appUpdateChannel: 'OTHER',
      appBuildID: 'UNKNOWN',
      namespace: 'telemetry',
      docType: 'saved-session',
      channel: 'OTHER',
    });
    // A path without its dimensions (docId only).
    expect(urlStatsValues(schema, undefined).appVersion).toBe('UNKNOWN');
  });

  it('cuts the decoded text, not the encoded one, and never inside a surrogate pair', () => {
    // 60 encoded spaces are 180 characters sent but 60 decoded: nothing to cut.
    const spaces = urlStatsValues(schema, { reason: '', appName: '', appVersion: '%20'.repeat(60), appUpdateChannel: '', appBuildID: '' });
    expect(spaces.appVersion).toBe(' '.repeat(60));
    const foxes = urlStatsValues(schema, { reason: '', appName: '', appVersion: `a${'%F0%9F%A6%8A'.repeat(100)}`, appUpdateChannel: '', appBuildID: '' });
    // 'a' + 63 foxes (127 code units): the 64th fox would be cut in half at 128.
    expect(foxes.appVersion).toBe(`a${'🦊'.repeat(63)}`);
    const long = urlStatsValues(schema, { reason: '', appName: '', appVersion: 'v'.repeat(300), appUpdateChannel: '', appBuildID: '' });
    expect(long.appVersion).toBe('v'.repeat(128));
  });

  it('never decodes a converted ping`s info values: they are the client`s text already', () => {
    const values = statsValues(schema, { reason: 'saved-session', appName: 'Firefox', appVersion: 'x%20y', appUpdateChannel: 'release', appBuildID: '%252e' });
    expect(values.appVersion).toBe('x%20y');
    expect(values.appBuildID).toBe('%252e');
  });

  it('decodes a generic form`s URL namespace and docType, never its channel (from the ping)', () => {
    expect(genericStatsValues({ namespace: 'firefox%2Ddesktop', docType: 'base%6Cine', channel: 'nightly%20x' })).toEqual({
      namespace: 'firefox-desktop',
      docType: 'baseline',
      channel: 'nightly%20x',
    });
    expect(genericStatsValues({ namespace: '%E0%A4%A', docType: '' })).toEqual({ namespace: '%E0%A4%A', docType: 'UNKNOWN' });
  });
});
