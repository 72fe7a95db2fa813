import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../src/errors.js';
import { MAX_BUCKET_COUNT, compileHistogramDefinitions, parseHistogramDefinitions } from '../src/histograms/definitions.js';
import type { CompiledHistogram } from '../src/histograms/types.js';
import { FIXTURE_REVISIONS, histogramsJsonPath } from './support/fixture-revisions.js';
import { fixturePath } from '../../test/support/fixtures.js';

function compileOne(definition: unknown): CompiledHistogram {
  const compiled = compileHistogramDefinitions({ H: definition }).get('H');
  if (compiled === undefined) throw new Error('H was not compiled');
  return compiled;
}

function definitionError(run: () => unknown): DefinitionError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DefinitionError);
    return error as DefinitionError;
  }
  throw new Error('expected a DefinitionError, nothing was thrown');
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('the broken revision files of fixtures/histograms-bad', () => {
  const files = readdirSync(fixturePath('histograms-bad')).filter((f) => f.endsWith('.json'));
  it('are all there', () => {
    expect(files.sort()).toEqual(['invalid.json', 'invalid_kind.json', 'invalid_schema.json', 'missing_kind.json']);
  });
  it.each(files)('%s is refused with a DefinitionError', (file) => {
    definitionError(() => parseHistogramDefinitions(readFileSync(fixturePath('histograms-bad', file), 'utf8')));
  });
  it('name the histogram when one definition is at fault', () => {
    const error = definitionError(() => parseHistogramDefinitions(readFileSync(fixturePath('histograms-bad', 'invalid_kind.json'), 'utf8')));
    expect(error.histogram).toBe('MY_HISTOGRAM');
    expect(error.message).toContain('bogus');
    const missing = definitionError(() => parseHistogramDefinitions(readFileSync(fixturePath('histograms-bad', 'missing_kind.json'), 'utf8')));
    expect(missing.histogram).toBe('MY_HISTOGRAM');
    expect(missing.message).toContain('kind');
  });
});

describe('the real revisions', () => {
  it.each(FIXTURE_REVISIONS)('$repo $revision compiles every histogram', ({ repo, revision }) => {
    const text = readFileSync(histogramsJsonPath(repo, revision), 'utf8');
    const names = Object.keys(JSON.parse(text) as object);
    const definitions = parseHistogramDefinitions(text);
    expect(definitions.size).toBe(names.length);
    expect([...definitions.names()]).toEqual(names);
    for (const name of names) {
      const compiled = definitions.get(name) as CompiledHistogram;
      expect(compiled.name).toBe(name);
      expect(compiled.bounds.length).toBe(compiled.bucketCount);
      expect(compiled.indexByKey.size).toBe(compiled.bucketCount);
      compiled.bounds.forEach((bound, index) => expect(compiled.indexByKey.get(String(bound))).toBe(index));
    }
  });
});

describe('kinds', () => {
  it.each(['boolean', 'flag', 'count'])('%s: low 1, high 2, 3 linear buckets', (kind) => {
    const compiled = compileOne({ kind, description: 'x' });
    expect(compiled).toMatchObject({ kind, low: 1, high: 2, bucketCount: 3, bounds: [0, 1, 2] });
  });

  it('boolean ignores size fields it does not use', () => {
    expect(compileOne({ kind: 'boolean', high: 'nonsense', n_buckets: 1 }).bounds).toEqual([0, 1, 2]);
  });

  it('enumerated: low 1, high n_values, n_values + 1 buckets', () => {
    expect(compileOne({ kind: 'enumerated', n_values: 5 })).toMatchObject({ low: 1, high: 5, bucketCount: 6, bounds: range(6) });
    expect(compileOne({ kind: 'enumerated', n_values: '80 + 1' }).bounds).toEqual(range(82));
  });

  it('linear: low defaults to 1', () => {
    expect(compileOne({ kind: 'linear', high: 10, n_buckets: 11 })).toMatchObject({ low: 1, high: 10, bounds: range(11) });
    expect(compileOne({ kind: 'linear', low: '5', high: '15', n_buckets: 12 }).bounds).toEqual([0, ...range(11).map((i) => i + 5)]);
  });

  it('exponential: strings and arithmetic for low/high/n_buckets', () => {
    const compiled = compileOne({ kind: 'exponential', low: '32 * 1024', high: '16 * 1024 * 1024', n_buckets: '10 + 40' });
    expect(compiled).toMatchObject({ low: 32 * 1024, high: 16 * 1024 * 1024, bucketCount: 50 });
    expect(compiled.bounds[1]).toBe(32 * 1024);
    expect(compiled.bounds[49]).toBe(16 * 1024 * 1024);
  });

  it('low 0 is raised to 1, as Firefox does', () => {
    expect(compileOne({ kind: 'exponential', low: 0, high: 3000, n_buckets: 10 }).bounds).toEqual(compileOne({ kind: 'exponential', high: 3000, n_buckets: 10 }).bounds);
  });
});

describe('file shapes', () => {
  const table = { A: { kind: 'flag' }, B: { kind: 'exponential', high: 3000, n_buckets: 10 } };
  it('the flat form and the {"histograms": ...} wrapper give the same definitions', () => {
    const flat = compileHistogramDefinitions(table);
    const wrapped = compileHistogramDefinitions({ histograms: table });
    expect([...wrapped.names()]).toEqual(['A', 'B']);
    expect(wrapped.get('B')?.bounds).toEqual(flat.get('B')?.bounds);
  });
  it('a histogram really named "histograms" is not mistaken for a wrapper', () => {
    const definitions = compileHistogramDefinitions({ histograms: { kind: 'flag' } });
    expect(definitions.get('histograms')?.bounds).toEqual([0, 1, 2]);
  });
});

describe('invalid definitions', () => {
  const cases: [string, unknown, string?][] = [
    ['a top-level array', ['a']],
    ['a top-level null', null],
    ['a top-level string', 'x'],
    ['a top-level number', 1],
    ['no histograms at all', {}],
    ['an empty wrapper', { histograms: {} }],
    ['a definition that is not an object', { H: 'flag' }, 'H'],
    ['a definition that is an array', { H: [] }, 'H'],
    ['a missing kind', { H: { high: 10 } }, 'H'],
    ['an unknown kind', { H: { kind: 'bogus' } }, 'H'],
    ['a kind that is not a string', { H: { kind: 3 } }, 'H'],
    ['enumerated without n_values', { H: { kind: 'enumerated' } }, 'H'],
    ['enumerated with n_values 1', { H: { kind: 'enumerated', n_values: 1 } }, 'H'],
    ['enumerated with an unknown constant', { H: { kind: 'enumerated', n_values: 'FOO::BAR' } }, 'H'],
    ['linear without high', { H: { kind: 'linear', n_buckets: 10 } }, 'H'],
    ['exponential without n_buckets', { H: { kind: 'exponential', high: 10 } }, 'H'],
    ['n_buckets below 3', { H: { kind: 'linear', high: 10, n_buckets: 2 } }, 'H'],
    ['n_buckets not an integer', { H: { kind: 'linear', high: 10, n_buckets: 2.5 } }, 'H'],
    ['n_buckets as a decimal string', { H: { kind: 'linear', high: 10, n_buckets: '10.5' } }, 'H'],
    ['low equal to high', { H: { kind: 'exponential', low: 10, high: 10, n_buckets: 5 } }, 'H'],
    ['low above high', { H: { kind: 'exponential', low: 20, high: 10, n_buckets: 5 } }, 'H'],
    ['a negative high', { H: { kind: 'linear', high: -10, n_buckets: 5 } }, 'H'],
    ['more linear buckets than values (repeated bounds)', { H: { kind: 'linear', low: 1, high: 3, n_buckets: 10 } }, 'H'],
    ['more buckets than the cap', { H: { kind: 'exponential', high: 10 ** 9, n_buckets: MAX_BUCKET_COUNT + 1 } }, 'H'],
  ];
  it.each(cases)('%s', (_what, json, histogram) => {
    const error = definitionError(() => compileHistogramDefinitions(json));
    expect(error.histogram).toBe(histogram);
  });

  it('text that is not JSON', () => {
    expect(definitionError(() => parseHistogramDefinitions('{"H": {"kind": "flag"')).message).toMatch(/JSON/);
  });

  it('one bad histogram fails the whole revision (compiled eagerly)', () => {
    const error = definitionError(() => compileHistogramDefinitions({ GOOD: { kind: 'flag' }, BAD: { kind: 'linear' } }));
    expect(error.histogram).toBe('BAD');
  });
});
