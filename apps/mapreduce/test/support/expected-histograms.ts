/**
 * The histogram aggregates a data set should give, computed the plain way
 * from records read by the independent reader: no code of the job is used.
 */
import type { StoredRecord } from './dataset.js';

export interface ExpectedHistogram {
  counts: number[];
  /** The five statistics summed over the records that had them; -1 when none had. */
  stats: number[];
  records: number;
}

export interface ExpectedGroup {
  records: number;
  histograms: Map<string, ExpectedHistogram>;
  revisions: Set<string>;
}

type Json = Record<string, unknown>;

function histogramsOf(ping: Json): { histograms: Record<string, number[]>; revision: string } {
  if (ping.version === 5) {
    const payload = ping.payload as Json;
    return { histograms: (payload.histograms ?? {}) as Record<string, number[]>, revision: String((payload.info as Json).revision) };
  }
  return { histograms: (ping.histograms ?? {}) as Record<string, number[]>, revision: String((ping.info as Json).revision) };
}

/** Group key "reason/appName/channel/version", as the directories spell it. */
export function expectedGroups(records: readonly StoredRecord[]): Map<string, ExpectedGroup> {
  const groups = new Map<string, ExpectedGroup>();
  for (const record of records) {
    const key = record.file.split('/').slice(0, 4).join('/');
    let group = groups.get(key);
    if (group === undefined) {
      group = { records: 0, histograms: new Map(), revisions: new Set() };
      groups.set(key, group);
    }
    group.records += 1;
    const { histograms, revision } = histogramsOf(JSON.parse(record.json) as Json);
    group.revisions.add(revision);
    for (const [name, values] of Object.entries(histograms)) {
      const buckets = values.length - 5;
      let sum = group.histograms.get(name);
      if (sum === undefined) {
        sum = { counts: new Array<number>(buckets).fill(0), stats: [-1, -1, -1, -1, -1], records: 0 };
        group.histograms.set(name, sum);
      }
      if (sum.counts.length !== buckets) throw new Error(`${name}: bucket count changed within ${key}; the test data should not do that`);
      for (let i = 0; i < buckets; i += 1) sum.counts[i] = (sum.counts[i] ?? 0) + (values[i] ?? 0);
      for (let s = 0; s < 5; s += 1) {
        const value = values[buckets + s] ?? -1;
        if (value !== -1) sum.stats[s] = (sum.stats[s] === -1 ? 0 : (sum.stats[s] ?? 0)) + value;
      }
      sum.records += 1;
    }
  }
  return groups;
}
