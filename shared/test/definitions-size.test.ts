import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { estimateDefinitionsBytes } from '../src/revisions/definitions-size.js';
import { FIXTURE_REVISIONS, loadFixtureDefinitions } from './support/fixture-revisions.js';
import { REPO_ROOT } from '../../test/support/fixtures.js';

const SCRIPT = fileURLToPath(new URL('./support/measure-definitions-heap.ts', import.meta.url));

describe('estimateDefinitionsBytes', () => {
  it('is 640 B a histogram plus 56 B a bucket', () => {
    const definitions = loadFixtureDefinitions('releases/mozilla-release', 'a55c55edf302');
    let buckets = 0;
    for (const name of definitions.names()) buckets += definitions.get(name)?.bucketCount ?? 0;
    expect(estimateDefinitionsBytes(definitions)).toBe(definitions.size * 640 + buckets * 56);
  });

  it.each(FIXTURE_REVISIONS)('puts a 2013 revision ($revision) at 3–4.5 MiB', ({ repo, revision }) => {
    const bytes = estimateDefinitionsBytes(loadFixtureDefinitions(repo, revision));
    expect(bytes).toBeGreaterThan(3 * 2 ** 20);
    expect(bytes).toBeLessThan(4.5 * 2 ** 20);
  });

  it('is not below the measured heap of a compiled revision, nor far above it (real and synthetic files)', () => {
    const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', SCRIPT], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { label: string; measuredBytes: number; estimatedBytes: number });
    expect(lines).toHaveLength(FIXTURE_REVISIONS.length + 8);
    console.log(lines.map((l) => `${l.label}: measured ${(l.measuredBytes / 2 ** 20).toFixed(2)} MiB, estimated ${(l.estimatedBytes / 2 ** 20).toFixed(2)} MiB`).join('\n'));
    for (const { label, measuredBytes, estimatedBytes } of lines) {
      expect(estimatedBytes, label).toBeGreaterThanOrEqual(measuredBytes * 0.95);
      expect(estimatedBytes, label).toBeLessThanOrEqual(measuredBytes * 1.4);
    }
  }, 90_000);
});
