/**
 * Merges the dashboard job's output into a published directory (state.ts,
 * folder.ts): one new folder per channel/majorVersion the run has data for,
 * the others kept as they are, then the commit.
 */
import path from 'node:path';
import { readOutputRecords } from '../encoding.js';
import type { MeasureResult } from './aggregate.js';
import type { DefinitionSource } from './definitions.js';
import { FolderBuilder } from './folder.js';
import { commitPublishedState, folderStamp, type PublishedState } from './state.js';

export interface DashboardPublishSummary {
  /** `<channel>/<majorVersion>` -> the folder written by this run. */
  readonly folders: Readonly<Record<string, string>>;
  readonly measures: number;
  /** Revision URL -> records whose histograms were left out (the server does not have it). */
  readonly missingRevisions: Readonly<Record<string, number>>;
  readonly malformedHistograms: Readonly<Record<string, number>>;
  /** Records left out, by reason (invalid_build_date). */
  readonly skippedRecords: Readonly<Record<string, number>>;
  /** Submissions left out because their layout was not the newest build's. */
  readonly excludedSubmissions: number;
  /** Published submissions dropped because a measure's newest build changed its layout. */
  readonly purgedSubmissions: number;
}

export interface PublishOptions {
  readonly previous: PublishedState;
  /** FILES_PROCESSED and FILES_MISSING after this run. */
  readonly processed: readonly string[];
  readonly missing: readonly string[];
  readonly definitions: DefinitionSource;
  readonly now: Date;
}

type Key = [string, ...string[]];

function isKey(value: unknown): value is Key {
  return Array.isArray(value) && value.length > 0 && value.every((part) => typeof part === 'string');
}

export async function publishDashboard(outputFile: string, outDir: string, options: PublishOptions): Promise<DashboardPublishSummary> {
  const root = path.resolve(outDir);
  const stamp = await folderStamp(root, options.now);
  const builders = new Map<string, FolderBuilder>();
  const missingRevisions: Record<string, number> = {};
  const malformedHistograms: Record<string, number> = {};
  const skippedRecords: Record<string, number> = {};
  let measures = 0;
  let excludedSubmissions = 0;
  let purgedSubmissions = 0;

  const builderOf = async (channel: string, majorVersion: string): Promise<FolderBuilder> => {
    const version = `${channel}/${majorVersion}`;
    let builder = builders.get(version);
    if (builder === undefined) {
      const previous = options.previous.versions[version];
      builder = await FolderBuilder.start(root, stamp, channel, majorVersion, previous === undefined ? undefined : path.join(root, previous));
      builders.set(version, builder);
    }
    return builder;
  };

  for await (const { key, value, line } of readOutputRecords(outputFile)) {
    if (!isKey(key)) throw new SyntaxError(`not a dashboard job output line: ${line.slice(0, 200)}`);
    const [kind, a = '', b = '', c = ''] = key;
    if (kind === 'measure' && key.length === 4) {
      const merged = await (await builderOf(a, b)).mergeMeasure(c, value as MeasureResult, options.definitions);
      measures += 1;
      excludedSubmissions += merged.excluded;
      purgedSubmissions += merged.purged;
    } else if (kind === 'records' && key.length === 3 && typeof value === 'number') {
      (await builderOf(a, b)).addRecords(value);
    } else if (kind === 'missing_revision' && typeof value === 'number') {
      missingRevisions[a] = value;
    } else if (kind === 'malformed_histogram' && typeof value === 'number') {
      malformedHistograms[a] = value;
    } else if (kind === 'skipped' && typeof value === 'number') {
      skippedRecords[a] = value;
    } else {
      throw new SyntaxError(`unexpected dashboard job output key: ${line.slice(0, 200)}`);
    }
  }

  const folders: Record<string, string> = {};
  for (const [version, builder] of builders) folders[version] = await builder.finish(root);
  const versions = Object.fromEntries(Object.entries({ ...options.previous.versions, ...folders }).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  await commitPublishedState(root, options.previous, { versions, processed: options.processed, missing: options.missing }, stamp);
  return { folders, measures, missingRevisions, malformedHistograms, skippedRecords, excludedSubmissions, purgedSubmissions };
}
