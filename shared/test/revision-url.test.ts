import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PingError } from '../src/errors.js';
import { normaliseRevisionId, parseRevisionUrl, SHORT_ID_LENGTH } from '../src/revisions/revision-url.js';

describe('normaliseRevisionId', () => {
  it.each([
    ['ABCDEF0123456789ABCDEF0123456789ABCDEF01', 'abcdef012345'],
    ['abcdef0123456789abcdef0123456789abcdef01', 'abcdef012345'],
    ['abcdef012345', 'abcdef012345'],
    ['ABCDEF012345', 'abcdef012345'],
    ['abcdef0123456', 'abcdef012345'],
    ['AbCdEf01234', 'abcdef01234'],
    ['a55c55', 'a55c55'],
    ['F', 'f'],
  ])('%s -> %s', (id, normalised) => {
    expect(normaliseRevisionId(id)).toBe(normalised);
  });

  it('gives one spelling to every case and length of one revision from 12 digits on', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9a-f]{40}$/), fc.integer({ min: SHORT_ID_LENGTH, max: 40 }), fc.boolean(), (full, length, upper) => {
        const sent = full.slice(0, length);
        expect(normaliseRevisionId(upper ? sent.toUpperCase() : sent)).toBe(full.slice(0, SHORT_ID_LENGTH));
      }),
    );
  });

  it('keeps shorter ids distinct (each is its own prefix)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9A-Fa-f]{1,11}$/), (sent) => {
        expect(normaliseRevisionId(sent)).toBe(sent.toLowerCase());
      }),
    );
  });
});

describe('parseRevisionUrl', () => {
  it.each([
    ['https://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302', 'releases/mozilla-release', 'a55c55edf302'],
    ['http://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302', 'releases/mozilla-release', 'a55c55edf302'],
    ['https://hg.mozilla.org/mozilla-central/rev/8d3810543edc', 'mozilla-central', '8d3810543edc'],
    // A full 40-digit id keys as its 12-digit short id.
    ['https://hg.mozilla.org/releases/mozilla-1.9.2/rev/0123456789abcdef0123456789abcdef01234567', 'releases/mozilla-1.9.2', '0123456789ab'],
    ['https://hg.mozilla.org/mozilla-central/rev/AD0AE007AA9E0123456789ABCDEF0123456789AB', 'mozilla-central', 'ad0ae007aa9e'],
    // Trailing slash as the 2013 server accepted; upper-case hex normalised to one cache key.
    ['https://hg.mozilla.org/mozilla-central/rev/AD0AE007AA9E/', 'mozilla-central', 'ad0ae007aa9e'],
    ['http://127.0.0.1:8080/integration/mozilla-inbound/rev/abc123', 'integration/mozilla-inbound', 'abc123'],
  ])('%s', (url, repo, revision) => {
    expect(parseRevisionUrl(url)).toEqual({ repo, revision });
  });

  it.each([
    ['not a string', 42],
    ['null', null],
    ['undefined', undefined],
    ['an object', { revision: 'a55c55edf302' }],
    ['empty', ''],
    ['no /rev/', 'https://hg.mozilla.org/releases/mozilla-release/a55c55edf302'],
    ['no repo', 'https://hg.mozilla.org/rev/a55c55edf302'],
    ['no revision', 'https://hg.mozilla.org/mozilla-central/rev/'],
    ['a non-hex revision', 'https://hg.mozilla.org/mozilla-central/rev/tip'],
    ['a hex revision with junk', 'https://hg.mozilla.org/mozilla-central/rev/a55c55edf302x'],
    ['a too long revision', `https://hg.mozilla.org/mozilla-central/rev/${'a'.repeat(41)}`],
    ['another scheme', 'ftp://hg.mozilla.org/mozilla-central/rev/a55c55edf302'],
    ['no scheme', 'hg.mozilla.org/mozilla-central/rev/a55c55edf302'],
    ['a query', 'https://hg.mozilla.org/mozilla-central/rev/a55c55edf302?x=1'],
    ['a fragment', 'https://hg.mozilla.org/mozilla-central/rev/a55c55edf302#x'],
    ['credentials', 'https://user:pw@hg.mozilla.org/mozilla-central/rev/a55c55edf302'],
    ['a .. repo', 'https://hg.mozilla.org/../../etc/rev/a55c55edf302'],
    ['a .. in the middle', 'https://hg.mozilla.org/releases/../x/rev/a55c55edf302'],
    ['a . segment', 'https://hg.mozilla.org/./mozilla-central/rev/a55c55edf302'],
    ['a hidden segment', 'https://hg.mozilla.org/.hg/rev/a55c55edf302'],
    ['an empty segment', 'https://hg.mozilla.org/releases//mozilla-release/rev/a55c55edf302'],
    ['percent-encoding', 'https://hg.mozilla.org/%2e%2e/x/rev/a55c55edf302'],
    ['a backslash', 'https://hg.mozilla.org/..\\x/rev/a55c55edf302'],
    ['a space', 'https://hg.mozilla.org/mozilla central/rev/a55c55edf302'],
    ['a NUL', 'https://hg.mozilla.org/mozilla\0central/rev/a55c55edf302'],
    ['a newline', 'https://hg.mozilla.org/mozilla-central/rev/a55c55edf302\n'],
    ['a very long URL', `https://hg.mozilla.org/${'a/'.repeat(300)}rev/a55c55edf302`],
  ])('refuses %s with missing_revision', (_label, url) => {
    let caught: unknown;
    try {
      parseRevisionUrl(url);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PingError);
    expect((caught as PingError).type).toBe('missing_revision');
  });

  it('gives repos that stay inside a directory and a URL path', () => {
    const root = path.resolve('/cache');
    const { repo, revision } = parseRevisionUrl('https://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302');
    const file = path.resolve(root, repo, revision, 'Histograms.json');
    expect(path.relative(root, file)).toBe(path.join('releases', 'mozilla-release', 'a55c55edf302', 'Histograms.json'));
    expect(encodeURI(repo)).toBe(repo);
  });
});

describe('parseRevisionUrl property', () => {
  // Repo paths built from hostile pieces: either refused, or safe components.
  const piece = fc.constantFrom('..', '.', '', 'a', 'mozilla-central', '%2e', '\\', '\0', ' ', '~', 'é', '.hg', 'x.y');
  const repo = fc.array(piece, { minLength: 0, maxLength: 5 }).map((parts) => parts.join('/'));

  it('never yields a repo that leaves the cache directory or is not a plain URL path', () => {
    const root = path.resolve('/cache');
    fc.assert(
      fc.property(repo, fc.stringMatching(/^[0-9a-f]{1,12}$/), (repoPath, revision) => {
        let parsed: { repo: string; revision: string };
        try {
          parsed = parseRevisionUrl(`https://hg.mozilla.org/${repoPath}/rev/${revision}`);
        } catch (error) {
          expect(error).toBeInstanceOf(PingError);
          return;
        }
        const segments = parsed.repo.split('/');
        expect(segments.every((s) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s))).toBe(true);
        const dir = path.resolve(root, ...segments, parsed.revision);
        expect(path.relative(root, dir).split(path.sep)).toEqual([...segments, parsed.revision]);
        expect(encodeURI(parsed.repo)).toBe(parsed.repo);
      }),
      { numRuns: 1000 },
    );
  });
});
