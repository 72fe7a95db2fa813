import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDimensionSchema, parseDimensionSchema } from '../src/dimensions/schema.js';
import { SchemaError } from '../src/errors.js';
import { fixturePath } from '../../test/support/fixtures.js';

const twoDims = (allowed: unknown) => ({
  version: 1,
  dimensions: [
    { field_name: 'reason', allowed_values: allowed },
    { field_name: 'submission_date', allowed_values: '*' },
  ],
});

describe('loadDimensionSchema on the real schema files', () => {
  it('loads the production schema of 2013-2015 in order', async () => {
    const schema = await loadDimensionSchema(fixturePath('schema', 'telemetry_schema.json'));
    expect(schema.version).toBe(1);
    expect(schema.dimensions.map((d) => d.field_name)).toEqual([
      'reason',
      'appName',
      'appUpdateChannel',
      'appVersion',
      'appBuildID',
      'submission_date',
    ]);
    expect(schema.dimensions[2]?.allowed_values).toEqual(['release', 'beta', 'nightly', 'aurora']);
    expect(schema.dimensions[3]?.allowed_values).toBe('*');
  });

  it('loads the memsize test schema with its numeric range', async () => {
    const schema = await loadDimensionSchema(fixturePath('schema', 'test_schema_memsize.json'));
    expect(schema.dimensions[0]?.field_name).toBe('submission_date');
    expect(schema.dimensions.at(-1)).toEqual({ field_name: 'memsize', allowed_values: { min: 448, max: 500 } });
  });
});

describe('loadDimensionSchema errors name the file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dim-schema-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a missing file', async () => {
    const file = path.join(dir, 'absent.json');
    await expect(loadDimensionSchema(file)).rejects.toThrow(SchemaError);
    await expect(loadDimensionSchema(file)).rejects.toThrow(file);
  });

  it('refuses a file that is not JSON', async () => {
    const file = path.join(dir, 'broken.json');
    await writeFile(file, '{"version": 1,');
    await expect(loadDimensionSchema(file)).rejects.toThrow(/broken\.json: not valid JSON/);
  });

  it('refuses an invalid schema with the file name and the issue path', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify(twoDims({ min: 'a', low: 1 })));
    await expect(loadDimensionSchema(file)).rejects.toThrow(/bad\.json: dimensions\.0\.allowed_values/);
  });
});

describe('parseDimensionSchema', () => {
  it('accepts every allowed_values form', () => {
    for (const allowed of ['*', 'saved-session', ['a', 'b'], [], { min: 1 }, { max: '20131031' }, { min: 1, max: 2 }, {}]) {
      expect(parseDimensionSchema(twoDims(allowed)).dimensions[0]?.allowed_values).toEqual(allowed);
    }
  });

  it('turns numbers in a list into their decimal text', () => {
    expect(parseDimensionSchema(twoDims([448, '512'])).dimensions[0]?.allowed_values).toEqual(['448', '512']);
  });

  it.each([
    ['not an object', 'schema', /\(root\)/],
    ['wrong version', { ...twoDims('*'), version: 2 }, /version/],
    ['no dimensions', { version: 1 }, /dimensions/],
    ['one dimension', { version: 1, dimensions: [{ field_name: 'a', allowed_values: '*' }] }, /at least 2/],
    ['empty field name', { version: 1, dimensions: [{ field_name: '', allowed_values: '*' }, { field_name: 'b', allowed_values: '*' }] }, /dimensions\.0\.field_name/],
    ['missing allowed_values', { version: 1, dimensions: [{ field_name: 'a' }, { field_name: 'b', allowed_values: '*' }] }, /dimensions\.0\.allowed_values/],
    ['a boolean', twoDims(true), /dimensions\.0\.allowed_values/],
    ['a list with an object', twoDims(['a', {}]), /dimensions\.0\.allowed_values/],
    ['a range with a typo', twoDims({ minimum: 3 }), /dimensions\.0\.allowed_values/],
    ['an empty range', twoDims({ min: 5, max: 1 }), /min is greater than max/],
    [
      'duplicate field names',
      { version: 1, dimensions: [{ field_name: 'a', allowed_values: '*' }, { field_name: 'a', allowed_values: '*' }] },
      /dimensions\.1\.field_name: duplicate field name "a"/,
    ],
  ])('refuses %s', (_label, json, message) => {
    expect(() => parseDimensionSchema(json, 'my-schema.json')).toThrow(SchemaError);
    expect(() => parseDimensionSchema(json, 'my-schema.json')).toThrow(message);
    expect(() => parseDimensionSchema(json, 'my-schema.json')).toThrow(/^my-schema\.json: /);
  });
});
