import { PingError } from '../errors.js';

/** A revision of a Mercurial repository, safe to use as a disk path and as a URL path. */
export interface RevisionRef {
  /** Repository path on the server, e.g. `releases/mozilla-release`. */
  readonly repo: string;
  /** Changeset id as normalised by normaliseRevisionId, e.g. `a55c55edf302`. */
  readonly revision: string;
}

/** Length of Mercurial's short changeset ids (`hg log` and hg.mozilla.org's URLs use it). */
export const SHORT_ID_LENGTH = 12;

/**
 * The one spelling of a hex changeset id that keys everything (memory, disk
 * file names, remembered 404s, shared loads, the URL fetched): lower-case,
 * and cut to the short id when at least that long. Otherwise `ABC…` and
 * `abc…`, or a 40-digit id and its 12-digit prefix, would each cost a fetch,
 * a compile and a cache entry for one revision. Shorter ids stay as sent:
 * the server resolves them as prefixes (or answers 404), as it would have.
 */
export function normaliseRevisionId(hex: string): string {
  return hex.toLowerCase().slice(0, SHORT_ID_LENGTH);
}

// Longer than any real revision URL by far; keeps junk from becoming cache keys.
const MAX_URL_LENGTH = 512;
const MAX_REPO_SEGMENTS = 8;

// scheme://host[:port]/<repo>/rev/<hex>[/], as the 2013 server accepted it.
// The host is not checked: the file is always fetched from HG_SERVER, so a
// ping naming another host cannot make us contact it.
const REVISION_URL = /^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?\/([^?#]+)\/rev\/([0-9A-Fa-f]{1,40})\/?$/;
// A repo path segment: starts with a letter or digit (so never `.`, `..` or
// hidden), then letters, digits, `.`, `_`, `-` (e.g. `mozilla-1.9.2`). No `%`,
// so percent-encoded tricks never reach the disk or the server.
const REPO_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function refuse(url: unknown, why: string): never {
  const shown = typeof url === 'string' ? JSON.stringify(url.slice(0, 200)) : typeof url;
  throw new PingError('missing_revision', `Invalid revision URL ${shown}: ${why}`);
}

/**
 * Splits `http(s)://<host>/<repo>/rev/<hex>` (the `info.revision` of a ping)
 * into repo and revision; anything else is PingError('missing_revision').
 */
export function parseRevisionUrl(url: unknown): RevisionRef {
  if (typeof url !== 'string') return refuse(url, 'not a string');
  if (url.length > MAX_URL_LENGTH) return refuse(url, 'too long');
  const match = REVISION_URL.exec(url);
  if (!match) return refuse(url, 'expected http(s)://<host>/<repo>/rev/<hex revision>');
  const [, repo, revision] = match;
  if (repo === undefined || revision === undefined) return refuse(url, 'expected a repo and a revision');
  const segments = repo.split('/');
  if (segments.length > MAX_REPO_SEGMENTS || !segments.every((segment) => REPO_SEGMENT.test(segment))) {
    return refuse(url, 'the repository path has unsafe or empty components');
  }
  return { repo, revision: normaliseRevisionId(revision) };
}

/** The cache key and log label of a revision. */
export function revisionKey(ref: RevisionRef): string {
  return `${ref.repo}/rev/${ref.revision}`;
}
