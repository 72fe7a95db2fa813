/**
 * One channel/majorVersion folder being published: the previous folder (if
 * any) merged with a run's measures into a new folder, written under a temp
 * name and renamed when complete, so a folder is never seen half-written.
 *
 *   histograms.json                {MEASURE: definition} (definitions.ts)
 *   revisions.json                 {MEASURE: {revision, buildId, length}} of the newest build
 *   filter-tree.json               filter-tree.ts
 *   MEASURE-by-build-date.json     {"YYYYMMDD": [[counts…, 5 statistics, submissions, filter id], …]}
 *   MEASURE-by-submission-date.json
 *   submissions.json               {"records": n, "measures": {MEASURE: submissions}} (not in the 2013 layout:
 *                                  what the page opens on)
 *
 * A measure whose newest build changed its array length starts over: the
 * older data of the other layout is dropped (counted as purged). Data of an
 * older build in another layout than the published one is left out.
 */
import { copyFile, link, mkdir, open, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { addValues, splitPathKey, submissionsOf, type MeasureResult, type Values } from './aggregate.js';
import type { DefinitionSource, PublishedDefinition } from './definitions.js';
import { FilterTree } from './filter-tree.js';
import { syncDir } from './state.js';

interface Revision {
  revision: string;
  buildId: string;
  length: number;
}

interface Submissions {
  records: number;
  measures: Record<string, number>;
}

/** date -> arrays ending in their filter id. */
type Dataset = Record<string, Values[]>;

const METADATA = ['histograms.json', 'revisions.json', 'filter-tree.json', 'submissions.json'];
const DATE_TYPES = [
  ['by-build-date', 'byBuildDate'],
  ['by-submission-date', 'bySubmissionDate'],
] as const;

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const record = <T>(value: unknown): Record<string, T> => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, T>) : {});

function sortedKeys<T>(object: Record<string, T>): Record<string, T> {
  const sorted: Record<string, T> = {};
  for (const key of Object.keys(object).sort()) sorted[key] = object[key] as T;
  return sorted;
}

async function writeNew(file: string, value: unknown): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(JSON.stringify(value));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface MeasureMerge {
  /** Submissions left out: of this run's other layouts, or of an older build in another layout than the published one. */
  readonly excluded: number;
  /** Published submissions dropped because the newest build changed the layout. */
  readonly purged: number;
}

export class FolderBuilder {
  private readonly written = new Set<string>();
  private readonly tree: FilterTree;

  private constructor(
    readonly name: string,
    private readonly temp: string,
    private readonly previous: string | undefined,
    tree: unknown,
    private readonly revisions: Record<string, Revision>,
    private readonly histograms: Record<string, PublishedDefinition>,
    private readonly submissions: Submissions,
  ) {
    this.tree = new FilterTree(tree);
  }

  /** Starts the folder of `channel/majorVersion` for a run, from the previous folder `previous` (absolute) when there is one. */
  static async start(outDir: string, stamp: string, channel: string, majorVersion: string, previous: string | undefined): Promise<FolderBuilder> {
    const name = `${stamp}-${channel}-${majorVersion}`;
    const temp = path.join(outDir, `.tmp-${name}`);
    await mkdir(temp);
    const old = (file: string) => (previous === undefined ? Promise.resolve(undefined) : readJson(path.join(previous, file)));
    const [histograms, revisions, tree, submissions] = await Promise.all(METADATA.map(old));
    const counts = record<unknown>(submissions);
    return new FolderBuilder(name, temp, previous, tree, record(revisions), record(histograms), {
      records: typeof counts.records === 'number' ? counts.records : 0,
      measures: record<number>(counts.measures),
    });
  }

  addRecords(records: number): void {
    this.submissions.records += records;
  }

  async mergeMeasure(measure: string, result: MeasureResult, definitions: DefinitionSource): Promise<MeasureMerge> {
    const old = this.revisions[measure];
    const newer = old === undefined || result.buildId > old.buildId || (result.buildId === old.buildId && result.revision > old.revision);
    const sameLayout = old !== undefined && old.length === result.length;
    if (!newer && !sameLayout) {
      // The published layout is the newer build's: this run's older one is left out (its files are carried as they are).
      const own = Object.values(result.byBuildDate).reduce((sum, values) => sum + submissionsOf(values), 0);
      return { excluded: result.excluded + own, purged: 0 };
    }
    if (newer) {
      this.histograms[measure] = await definitions.definition(measure, result.revision);
      this.revisions[measure] = { revision: result.revision, buildId: result.buildId, length: result.length };
    }
    const purged = sameLayout ? 0 : (this.submissions.measures[measure] ?? 0);
    for (const [suffix, field] of DATE_TYPES) {
      const file = `${measure}-${suffix}.json`;
      const dataset = sameLayout && this.previous !== undefined ? record<Values[]>(await readJson(path.join(this.previous, file))) : {};
      this.merge(dataset, result[field]);
      await writeNew(path.join(this.temp, file), sortedKeys(dataset));
      this.written.add(file);
      if (field === 'byBuildDate') {
        let total = 0;
        for (const arrays of Object.values(dataset)) for (const values of arrays) total += submissionsOf(values, 2);
        this.submissions.measures[measure] = total;
      }
    }
    return { excluded: result.excluded, purged };
  }

  private merge(dataset: Dataset, data: Readonly<Record<string, Values>>): void {
    const byDate = new Map<string, Map<number, Values>>();
    for (const [key, values] of Object.entries(data)) {
      const { date, filter } = splitPathKey(key);
      const id = this.tree.idOf(filter);
      let index = byDate.get(date);
      if (index === undefined) {
        index = new Map((dataset[date] ?? []).map((array) => [array[array.length - 1] ?? -1, array]));
        byDate.set(date, index);
      }
      const existing = index.get(id);
      if (existing !== undefined) {
        addValues(existing, values);
        continue;
      }
      const array = [...values, id];
      index.set(id, array);
      (dataset[date] ??= []).push(array);
    }
  }

  /** Writes the metadata, carries the previous folder's other files over (hard links), renames the folder into place. */
  async finish(outDir: string): Promise<string> {
    await writeNew(path.join(this.temp, 'histograms.json'), sortedKeys(this.histograms));
    await writeNew(path.join(this.temp, 'revisions.json'), sortedKeys(this.revisions));
    await writeNew(path.join(this.temp, 'filter-tree.json'), this.tree.root);
    await writeNew(path.join(this.temp, 'submissions.json'), { records: this.submissions.records, measures: sortedKeys(this.submissions.measures) });
    if (this.previous !== undefined) {
      for (const file of await readdir(this.previous)) {
        if (this.written.has(file) || METADATA.includes(file)) continue;
        // A published folder is never changed: sharing its files is safe.
        await link(path.join(this.previous, file), path.join(this.temp, file)).catch(() => copyFile(path.join(this.previous ?? '', file), path.join(this.temp, file)));
      }
    }
    await syncDir(this.temp);
    await rename(this.temp, path.join(outDir, this.name));
    return this.name;
  }
}
