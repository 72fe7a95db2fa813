/**
 * The revision cache of the shipped jobs (histograms, dashboard): one per
 * Mercurial server and cache directory (`--param hgServer=…`,
 * `--param revisionCacheDir=…`, else HG_SERVER and REVISION_CACHE_DIR), kept
 * for the life of the process, as a worker runs many tasks.
 */
import { PingError } from '@telemetry/shared/errors';
import type { HistogramDefinitions } from '@telemetry/shared/histograms/types';
import { RevisionCache } from '@telemetry/shared/revisions/revision-cache';
import type { JobParams } from './job-api.js';

const caches = new Map<string, RevisionCache>();

function revisionCacheFor(params: JobParams): RevisionCache {
  const hgServer = params.hgServer ?? process.env.HG_SERVER ?? 'https://hg.mozilla.org';
  const cacheDir = params.revisionCacheDir ?? process.env.REVISION_CACHE_DIR ?? './var/revision-cache';
  const key = `${hgServer}\n${cacheDir}`;
  let cache = caches.get(key);
  if (cache === undefined) {
    cache = new RevisionCache({ hgServer, cacheDir });
    caches.set(key, cache);
  }
  return cache;
}

/**
 * A record's definitions, or undefined for a revision that is unknown or
 * malformed (permanent: reported by the job). Anything else (the server is
 * down) propagates: the task fails and is retried.
 */
export async function definitionsOf(revision: unknown, params: JobParams): Promise<HistogramDefinitions | undefined> {
  if (typeof revision !== 'string') return undefined;
  try {
    return await revisionCacheFor(params).get(revision);
  } catch (error) {
    if (error instanceof PingError) return undefined;
    throw error;
  }
}
