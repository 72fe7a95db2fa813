/**
 * Turns the histogram job's output into the dashboard's static files:
 *   <out>/index.json                                   list of entries
 *   <out>/<reason>/<appName>/<channel>/<version>.json  one entry's histograms
 * Every file is written to a temp file and renamed, entry files before the
 * index, so the dashboard never reads a half-written file nor an index naming
 * a file that is not there yet. Entry files a previous index listed and the
 * new one does not are removed afterwards; nothing else in <out> is touched.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readOutputRecords } from '../encoding.js';
import { sanitizeDimensionValue } from '@telemetry/shared/dimensions/sanitize';
import type { GroupAggregate } from '../jobs/histograms.js';

const INDEX_FILE = 'index.json';

export interface IndexEntry {
  reason: string;
  appName: string;
  appUpdateChannel: string;
  appVersion: string;
  /** Relative to the index, `/`-separated. */
  file: string;
  records: number;
  histograms: string[];
}

export interface HistogramIndex {
  generatedAt: string;
  entries: IndexEntry[];
}

export interface PublishSummary {
  readonly entries: readonly IndexEntry[];
  /** Revision URL -> records whose histograms got no bounds (the server does not have it). */
  readonly missingRevisions: Readonly<Record<string, number>>;
  readonly malformedHistograms: Readonly<Record<string, number>>;
  /** Histogram records left out because their bucket layout was not the group's. */
  readonly excludedRecords: number;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

export async function publishHistogramOutput(outputFile: string, outDir: string, now = new Date()): Promise<PublishSummary> {
  const root = path.resolve(outDir);
  const entries: IndexEntry[] = [];
  const missingRevisions: Record<string, number> = {};
  const malformedHistograms: Record<string, number> = {};
  let excludedRecords = 0;
  for await (const { key, value, line } of readOutputRecords(outputFile)) {
    if (!isStringArray(key)) throw new SyntaxError(`not a histogram job output line: ${line.slice(0, 200)}`);
    const [kind, ...rest] = key;
    if (kind === 'missing_revision' && typeof value === 'number') missingRevisions[rest[0] ?? ''] = value;
    else if (kind === 'malformed_histogram' && typeof value === 'number') malformedHistograms[rest[0] ?? ''] = value;
    else if (kind === 'group' && rest.length === 4) {
      const [reason = '', appName = '', appUpdateChannel = '', appVersion = ''] = rest.map(sanitizeDimensionValue);
      const group = value as GroupAggregate;
      const file = `${reason}/${appName}/${appUpdateChannel}/${appVersion}.json`;
      const document = { reason, appName, appUpdateChannel, appVersion, records: group.records, histograms: group.histograms };
      await writeAtomically(path.join(root, ...file.split('/')), JSON.stringify(document));
      excludedRecords += Object.values(group.excluded).reduce((a, b) => a + b, 0);
      entries.push({ reason, appName, appUpdateChannel, appVersion, file, records: group.records, histograms: Object.keys(group.histograms) });
    } else {
      throw new SyntaxError(`unexpected histogram job output key: ${line.slice(0, 200)}`);
    }
  }
  const previous = await readIndex(root);
  const index: HistogramIndex = { generatedAt: now.toISOString(), entries };
  await writeAtomically(path.join(root, INDEX_FILE), JSON.stringify(index));
  const current = new Set(entries.map((entry) => entry.file));
  for (const old of previous?.entries ?? []) {
    if (typeof old.file !== 'string' || current.has(old.file)) continue;
    const file = path.resolve(root, old.file);
    // Only files the old index named, inside <out>, that are entry files.
    if (file.startsWith(root + path.sep) && file.endsWith('.json')) await rm(file, { force: true });
  }
  return { entries, missingRevisions, malformedHistograms, excludedRecords };
}

async function readIndex(root: string): Promise<HistogramIndex | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(root, INDEX_FILE), 'utf8')) as HistogramIndex;
    return Array.isArray(parsed.entries) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
