import { readFileSync } from 'node:fs';
import { PingError } from '../../src/errors.js';
import { parseHistogramDefinitions } from '../../src/histograms/definitions.js';
import type { HistogramDefinitions } from '../../src/histograms/types.js';
import { parseRevisionUrl } from '../../src/revisions/revision-url.js';
import type { RevisionSource } from '../../src/revisions/types.js';
import { fixturePath } from '../../../test/support/fixtures.js';

/** The real revisions shipped in fixtures/hg. */
export const FIXTURE_REVISIONS = [
  { repo: 'releases/mozilla-release', revision: 'a55c55edf302' },
  { repo: 'mozilla-central', revision: '8d3810543edc' },
  { repo: 'mozilla-central', revision: 'ad0ae007aa9e' },
] as const;

export const RELEASE_23_URL = 'http://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302';

export function histogramsJsonPath(repo: string, revision: string): string {
  return fixturePath('hg', ...repo.split('/'), 'raw-file', revision, 'toolkit', 'components', 'telemetry', 'Histograms.json');
}

export function loadFixtureDefinitions(repo: string, revision: string): HistogramDefinitions {
  return parseHistogramDefinitions(readFileSync(histogramsJsonPath(repo, revision), 'utf8'));
}

/**
 * A RevisionSource over the fixture files, as a revision cache with nothing
 * but a local disk would be: known revisions compile once, the rest are
 * missing_revision. Counts lookups so tests can see whether one happened.
 */
export class FixtureRevisionSource implements RevisionSource {
  readonly requested: string[] = [];
  private readonly compiled = new Map<string, HistogramDefinitions>();

  get(revisionUrl: string): Promise<HistogramDefinitions> {
    this.requested.push(revisionUrl);
    try {
      const { repo, revision } = parseRevisionUrl(revisionUrl);
      const key = `${repo}/${revision}`;
      let definitions = this.compiled.get(key);
      if (definitions === undefined) {
        const known = FIXTURE_REVISIONS.some((r) => r.repo === repo && r.revision === revision);
        if (!known) throw new PingError('missing_revision', `unknown revision ${key}`);
        definitions = loadFixtureDefinitions(repo, revision);
        this.compiled.set(key, definitions);
      }
      return Promise.resolve(definitions);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
