import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDimensionSchema, type DimensionSchema } from '../src/dimensions/schema.js';
import {
  dimensionValues,
  parseStorageFileName,
  storageFileName,
  storageLocation,
} from '../src/dimensions/storage-path.js';
import { fixturePath } from '../../test/support/fixtures.js';

// 2013-09-10T23:59:59.999Z, and one millisecond later the next UTC day.
const SEPT_10_LATE = Date.UTC(2013, 8, 10, 23, 59, 59, 999);

const firefox23 = {
  reason: 'saved-session',
  appName: 'Firefox',
  appUpdateChannel: 'release',
  appVersion: '23.0.1',
  appBuildID: '20130814063812',
};

let production: DimensionSchema;
let memsize: DimensionSchema;
beforeAll(async () => {
  production = await loadDimensionSchema(fixturePath('schema', 'telemetry_schema.json'));
  memsize = await loadDimensionSchema(fixturePath('schema', 'test_schema_memsize.json'));
});

describe('dimensionValues', () => {
  it('takes values from info and the UTC receive date, sanitised', () => {
    expect(dimensionValues(production, firefox23, SEPT_10_LATE)).toEqual([
      'saved_session',
      'Firefox',
      'release',
      '23.0.1',
      '20130814063812',
      '20130910',
    ]);
    expect(dimensionValues(production, firefox23, SEPT_10_LATE + 1).at(-1)).toBe('20130911');
  });

  it('ignores a submission_date field in info: the receive date is authoritative', () => {
    const values = dimensionValues(production, { ...firefox23, submission_date: '../../etc' }, SEPT_10_LATE);
    expect(values.at(-1)).toBe('20130910');
  });

  it('missing or null fields are UNKNOWN, values not allowed are OTHER', () => {
    const info = { reason: 'crash', appName: null, appUpdateChannel: 'esr', appVersion: '' };
    expect(dimensionValues(production, info, SEPT_10_LATE)).toEqual(['OTHER', 'UNKNOWN', 'OTHER', '_', 'UNKNOWN', '20130910']);
  });

  it('does not read inherited properties as fields', () => {
    expect(dimensionValues(production, {}, SEPT_10_LATE).slice(0, 5)).toEqual(Array(5).fill('UNKNOWN'));
    const values = dimensionValues(production, JSON.parse('{"__proto__": {"appName": "Firefox"}}') as Record<string, unknown>, 0);
    expect(values[1]).toBe('UNKNOWN');
  });

  it('stringifies numbers and booleans, and turns objects and arrays into OTHER', () => {
    const info = { reason: 'idle-daily', appName: 'Firefox', appUpdateChannel: 'beta', appVersion: 24, appBuildID: true };
    expect(dimensionValues(production, info, 0).slice(3, 5)).toEqual(['24', 'true']);
    const odd = { ...info, appVersion: { v: 1 }, appBuildID: ['2013'] };
    expect(dimensionValues(production, odd, 0).slice(3, 5)).toEqual(['OTHER', 'OTHER']);
  });

  it('applies a numeric range to numbers and to numeric text (memsize schema)', () => {
    const info = { ...firefox23, reason: 'idle-daily' };
    expect(dimensionValues(memsize, { ...info, memsize: 448 }, SEPT_10_LATE)).toEqual([
      '20130910',
      'idle_daily',
      'Firefox',
      'release',
      '23.0.1',
      '20130814063812',
      '448',
    ]);
    expect(dimensionValues(memsize, { ...info, memsize: '499.5' }, 0).at(-1)).toBe('499.5');
    expect(dimensionValues(memsize, { ...info, memsize: 501 }, 0).at(-1)).toBe('OTHER');
    expect(dimensionValues(memsize, { ...info, memsize: 'lots' }, 0).at(-1)).toBe('OTHER');
    expect(dimensionValues(memsize, info, 0).at(-1)).toBe('UNKNOWN');
  });

  it('sanitises hostile allowed values so the path stays inside the root', () => {
    const values = dimensionValues(production, { ...firefox23, appVersion: '../../x', appBuildID: '..' }, 0);
    expect(values.slice(3, 5)).toEqual(['.._.._x', '_']);
    const root = path.resolve('/storage');
    const { dir, fileStem } = storageLocation(values);
    const file = path.resolve(root, dir, storageFileName(fileStem, { writerId: 'w1' }));
    expect(file.startsWith(root + path.sep)).toBe(true);
    expect(path.relative(root, file).split(path.sep)).toHaveLength(5);
  });

  it('refuses a receive time that is not a time', () => {
    expect(() => dimensionValues(production, firefox23, Number.NaN)).toThrow(RangeError);
  });
});

describe('storageLocation', () => {
  it('puts all but the last two values in the directory and those two in the file name (SPEC 4.4 example)', () => {
    const dims = dimensionValues(production, firefox23, SEPT_10_LATE);
    expect(storageLocation(dims)).toEqual({
      dir: 'saved_session/Firefox/release/23.0.1',
      fileStem: '20130814063812.20130910.v2',
    });
    expect(storageFileName('20130814063812.20130910.v2', { writerId: 'w3f9c' })).toBe(
      '20130814063812.20130910.v2.w3f9c.log',
    );
  });

  it('replaces dots in the two file-name dimensions so the name splits on dots', () => {
    expect(storageLocation(['a', '1.2.3', '2013.09'])).toEqual({ dir: 'a', fileStem: '1_2_3.2013_09.v2' });
  });

  it('uses the storage root itself for a two-dimension schema', () => {
    expect(storageLocation(['x', '20130910'])).toEqual({ dir: '', fileStem: 'x.20130910.v2' });
  });

  it('sanitises raw values itself and refuses fewer than two', () => {
    expect(storageLocation(['..', '/', 'a/b', '.'])).toEqual({ dir: '_/_', fileStem: 'a_b._.v2' });
    expect(() => storageLocation(['only'])).toThrow(RangeError);
  });
});

describe('storage file names', () => {
  it('round-trips storageLocation -> file name -> parseStorageFileName', () => {
    const { fileStem } = storageLocation(['saved_session', 'Firefox', 'release', '23.0.1', '20130814063812', '20130910']);
    expect(parseStorageFileName(storageFileName(fileStem, { writerId: 'w3f9c' }))).toEqual({
      dims: ['20130814063812', '20130910'],
      version: 'v2',
      writerId: 'w3f9c',
      extension: 'log',
    });
    for (const compression of ['gz', 'zst', 'xz'] as const) {
      const name = storageFileName(fileStem, { writerId: 'host-1_42', seq: 7, compression });
      expect(name).toBe(`20130814063812.20130910.v2.host-1_42.7.log.${compression}`);
      expect(parseStorageFileName(name)).toEqual({
        dims: ['20130814063812', '20130910'],
        version: 'v2',
        writerId: 'host-1_42',
        seq: '7',
        extension: `log.${compression}`,
      });
    }
  });

  it('parses the two real 2013 archive names', async () => {
    const nightly = fixturePath('storage', 'saved_session', 'Firefox', 'nightly');
    const names: string[] = [];
    for (const version of await readdir(nightly)) names.push(...(await readdir(path.join(nightly, version))));
    expect(names.sort()).toEqual(['20130226031002.20131011.v2.log.lzma', '20131029030201.20131029.v2.log.lzma']);
    expect(names.map(parseStorageFileName)).toEqual([
      { dims: ['20130226031002', '20131011'], version: 'v2', extension: 'log.lzma' },
      { dims: ['20131029030201', '20131029'], version: 'v2', extension: 'log.lzma' },
    ]);
  });

  it('parses 2013 names as uploaded to S3, with their upload id', () => {
    expect(parseStorageFileName('20130902030220.20130908.v2.log.7e9556a5e32b4990a9d378eea65f57a9.lzma')).toEqual({
      dims: ['20130902030220', '20130908'],
      version: 'v2',
      seq: '7e9556a5e32b4990a9d378eea65f57a9',
      extension: 'log.lzma',
    });
  });

  it.each([
    '20130814063812.20130910.v2.w1.log.gz.tmp',
    '20130814063812.20130910.v2.w1.3.log.gz.12345.tmp',
    '.20130814063812.20130910.v2.w1.log',
    '20130814063812.20130910.log',
    '20130814063812.20130910.v2',
    '20130814063812.v2.w1.log',
    '20130814063812.20130910.v2.w1.log.bz2',
    '20130814063812.20130910.v2.w.1.log.lzma.x',
    '20130814-063812.20130910.v2.w1.log',
    'Histograms.json',
    '',
  ])('refuses %j (not a storage file)', (name) => {
    expect(parseStorageFileName(name)).toBeUndefined();
  });

  it('refuses writer ids and sequences that would break the name', () => {
    expect(() => storageFileName('a.b.v2', { writerId: 'w.1' })).toThrow(RangeError);
    expect(() => storageFileName('a.b.v2', { writerId: '' })).toThrow(RangeError);
    expect(() => storageFileName('a.b.v2', { writerId: 'w', seq: '1.2' })).toThrow(RangeError);
  });
});
