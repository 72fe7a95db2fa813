/**
 * `telemetry revisions warm <revision-url>...`: fetches the Histograms.json of
 * each revision into the disk cache the workers read (REVISION_CACHE_DIR),
 * before pings of a new Firefox release arrive, so the first of them neither
 * waits for the Mercurial server nor goes to the retry queue if it is down.
 * Prints one line per revision: "<url>\t<outcome>\t<detail>"; exit 0 when
 * every revision is in the cache afterwards, 1 otherwise.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { conversionEnvShape } from '@telemetry/shared/config/domain';
import { parseEnv } from '@telemetry/shared/config/env';
import { classifyError } from '@telemetry/shared/errors';
import { RevisionCache } from '@telemetry/shared/revisions/revision-cache';
import { z } from 'zod';
import { UsageError } from '../usage-error.js';
import { retryTransient, writeOrWait } from './io.js';

interface WarmOptions {
  file?: string;
  hgServer?: string;
  revisionCache?: string;
}

/** What happened to one revision. */
export type WarmOutcome = 'cached' | 'fetched' | 'missing' | 'unavailable' | 'failed';

export function registerRevisions(program: Command): void {
  const revisions = program.command('revisions').description('Manage the disk cache of Histograms.json revisions');
  revisions
    .command('warm')
    .description('Fetch the Histograms.json of each revision into the cache (REVISION_CACHE_DIR) the workers read')
    .argument('[revision-url...]', 'revision URLs as in info.revision, e.g. https://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302')
    .option('--file <path>', 'read more revision URLs from a file, one per line (# comments allowed)')
    .option('--hg-server <url>', 'Mercurial server (default: HG_SERVER or https://hg.mozilla.org)')
    .option('--revision-cache <dir>', 'disk cache directory (default: REVISION_CACHE_DIR)')
    .action(async (urls: string[], options: WarmOptions) => {
      process.exitCode = await runWarm(urls, options, process.stdout);
    });
}

async function revisionUrls(urls: string[], file: string | undefined): Promise<string[]> {
  const all = [...urls];
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new UsageError(`--file ${file}: ${error instanceof Error ? error.message : String(error)}`);
    }
    all.push(...text.split('\n').map((line) => line.replace(/#.*/, '').trim()).filter((line) => line !== ''));
  }
  if (all.length === 0) throw new UsageError('give at least one revision URL (or --file)');
  return [...new Set(all)];
}

/** missing: the server has no such revision (404, invalid file or URL); unavailable: try again later; failed: anything else (e.g. the cache directory is not writable). */
function failure(error: unknown): { outcome: WarmOutcome; detail: string } {
  const classified = classifyError(error);
  switch (classified.kind) {
    case 'file':
      return { outcome: 'missing', detail: classified.message };
    case 'retry':
      return { outcome: 'unavailable', detail: classified.message };
    case 'crash':
      return { outcome: 'failed', detail: error instanceof Error ? error.message : String(error) };
  }
}

/** Warms every revision, one at a time (each outcome is then known from the cache's counters). */
async function runWarm(urls: string[], options: WarmOptions, output: NodeJS.WritableStream): Promise<number> {
  const env = parseEnv(z.object(conversionEnvShape), process.env);
  const hgServer = options.hgServer ?? env.HG_SERVER;
  if (!/^https?:\/\//.test(hgServer) || !URL.canParse(hgServer)) throw new UsageError(`--hg-server must be an http(s) URL, got "${hgServer}"`);
  const cache = new RevisionCache({ hgServer, cacheDir: options.revisionCache ?? env.REVISION_CACHE_DIR });
  let failed = 0;
  for (const url of await revisionUrls(urls, options.file)) {
    const diskHitsBefore = cache.counters.diskHits;
    let outcome: WarmOutcome;
    let detail: string;
    try {
      const definitions = await retryTransient(() => cache.get(url));
      outcome = cache.counters.diskHits > diskHitsBefore ? 'cached' : 'fetched';
      detail = `${definitions.size} histograms`;
    } catch (error) {
      ({ outcome, detail } = failure(error));
      failed += 1;
    }
    await writeOrWait(output, `${url}\t${outcome}\t${detail.replace(/[\t\n]/g, ' ')}\n`);
  }
  return failed === 0 ? 0 : 1;
}
