import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDashboard } from '@telemetry/mapreduce/dashboard/run';
import { readAllRecords, type StoredRecord } from '../../apps/mapreduce/test/support/dataset.js';
import { buildDashboardDataSet, DASHBOARD_HISTOGRAMS } from '../../apps/mapreduce/test/support/dashboard-data.js';
import { bucketOracle, docId, REV_24, REV_24_URL, storageLines, writeStorageFile } from '../../apps/mapreduce/test/support/generate.js';
import { launchChromium } from '../support/browser.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';

type Json = Record<string, unknown>;
/** A junk version with one record, first in sort order ("beta/_"): the page must not open on it. */
const JUNK = 'saved_session/Firefox/beta/.._.._tmp_escape/20131001030201.20131002.v2.wZ.1.log.gz';

interface Row {
  buildDate: string;
  submissionDate: string;
  os: string;
  values: number[] | undefined;
}

function rowOf(record: StoredRecord, measure: string): Row {
  const ping = JSON.parse(record.json) as Json;
  const body = (ping.version === 5 ? ping.payload : ping) as Json;
  const env = (((ping.environment as Json | undefined)?.system as Json | undefined)?.os ?? {}) as Json;
  const [, , , , name = ''] = record.file.split('/');
  const [buildId = '', submissionDate = ''] = name.split('.');
  return { buildDate: buildId.slice(0, 8), submissionDate, os: String((ping.info as Json).OS ?? env.name), values: ((body.histograms ?? {}) as Record<string, number[]>)[measure] };
}

/** Mean and interpolated median of summed converted histograms, written plainly from the definitions of the terms. */
function summarize(rows: readonly Row[], bounds: readonly number[]): { submissions: number; mean: number; median: number; counts: number[] } {
  const buckets = bounds.length;
  const counts = new Array<number>(buckets).fill(0);
  let sum = 0;
  for (const row of rows) {
    row.values?.slice(0, buckets).forEach((c, i) => (counts[i] = (counts[i] ?? 0) + c));
    const s = row.values?.[buckets] ?? -1;
    if (s !== -1) sum += s;
  }
  const total = counts.reduce((a, b) => a + b, 0);
  let seen = 0;
  let median = NaN;
  for (let i = 0; i < buckets; i += 1) {
    const c = counts[i] ?? 0;
    if (c > 0 && seen + c >= total / 2) {
      const low = bounds[i] ?? 0;
      const high = bounds[i + 1] ?? low + (low - (bounds[i - 1] ?? low - 1));
      median = low + ((total / 2 - seen) / c) * (high - low);
      break;
    }
    seen += c;
  }
  return { submissions: rows.length, mean: sum / total, median, counts };
}

describe('the evolution view (dashboard job files) in headless Chromium', () => {
  let p: TestPipeline;
  let browser: Browser;
  let page: Page;
  let records: StoredRecord[];
  beforeAll(async () => {
    p = await startTestPipeline('evolution', { stats: true, workers: 0 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await p?.stop();
  });

  const ready = () => page.waitForFunction('window.telemetryEvolution && window.telemetryEvolution.ready === true');
  const evaluate = <T>(expression: string) => page.evaluate<T>(expression);

  it('says how to produce the files when there are none', async () => {
    await page.goto(p.statsUrl);
    await page.waitForSelector('#evolution-empty', { state: 'visible' });
    expect(await page.isHidden('#evolution-view')).toBe(true);
  });

  it('opens on the most submitted channel/version and measure, filters by OS, switches dates, draws a date range histogram', async () => {
    const data = path.join(p.env.dir, 'dashboard-input');
    await buildDashboardDataSet(data);
    const junk = { ver: 2, info: { OS: 'WINNT', version: '6.1', arch: 'x86', revision: REV_24_URL }, simpleMeasurements: { uptime: 1 } };
    await writeStorageFile(data, JUNK, storageLines([{ docId: docId('junk', 0), json: JSON.stringify(junk) }]));
    records = await readAllRecords(data);
    await runDashboard({ dataDir: data, outDir: path.join(p.env.dir, 'dashboard-data', 'dashboard'), hgServer: p.hg.url, revisionCacheDir: path.join(p.env.dir, 'revisions'), workDir: path.join(p.env.dir, 'work'), mappers: 2 });

    await page.reload();
    await ready();
    expect(await page.inputValue('#ev-version')).toBe('nightly/26');
    const nightly = records.filter((record) => record.file.includes('/nightly/26.0a1/'));
    const submissions = (measure: string) => nightly.filter((record) => rowOf(record, measure).values !== undefined).length;
    const common = [...DASHBOARD_HISTOGRAMS].sort((a, b) => submissions(b) - submissions(a) || (a < b ? -1 : 1))[0] ?? '';
    expect(await page.inputValue('#ev-measure')).toBe(common);

    // Filter: Linux only. Its osVersion options follow (first 3 characters of the kernel version).
    await page.selectOption('#ev-filter-OS', 'Linux');
    await ready();
    expect(await evaluate<string[]>(`[...document.getElementById('ev-filter-osVersion').options].map((o) => o.value)`)).toEqual(['', '3.2']);
    const bounds = bucketOracle(REV_24)[common]?.buckets ?? [];
    const linux = nightly.map((record) => rowOf(record, common)).filter((row) => row.os === 'Linux' && row.values !== undefined);
    const buildDates = [...new Set(linux.map((row) => row.buildDate))].sort();
    expect(await evaluate<string[]>('window.telemetryCharts.evolution.data.labels')).toEqual(buildDates.map((d) => `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`));
    const series = await evaluate<{ label: string; data: (number | null)[] }[]>('window.telemetryCharts.evolution.data.datasets.map((d) => ({ label: d.label, data: d.data }))');
    expect(series.map((s) => s.label)).toEqual(['mean', 'p5', 'p25', 'p50', 'p75', 'p95', 'submissions']);
    buildDates.forEach((date, i) => {
      const want = summarize(linux.filter((row) => row.buildDate === date), bounds);
      expect(series[6]?.data[i]).toBe(want.submissions);
      expect(series[0]?.data[i]).toBeCloseTo(want.mean, 6);
      expect(series[3]?.data[i]).toBeCloseTo(want.median, 6);
    });

    // Over submission dates (at most 60 days after the build).
    await page.selectOption('#ev-over', 'submission');
    await ready();
    const day = (stamp: string) => Date.UTC(Number(stamp.slice(0, 4)), Number(stamp.slice(4, 6)) - 1, Number(stamp.slice(6))) / 86_400_000;
    const submissionDates = [...new Set(linux.filter((row) => day(row.submissionDate) - day(row.buildDate) <= 60).map((row) => row.submissionDate))].sort();
    expect(await evaluate<string[]>('window.telemetryCharts.evolution.data.labels')).toEqual(submissionDates.map((d) => `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`));

    // The histogram of one build date, its buckets labelled by their bounds.
    await page.selectOption('#ev-over', 'build');
    await ready();
    const [date] = buildDates.slice(-1);
    await page.selectOption('#ev-from', date ?? '');
    await ready();
    await page.selectOption('#ev-to', date ?? '');
    await ready();
    const want = summarize(linux.filter((row) => row.buildDate === date), bounds);
    expect(await evaluate<number[]>('window.telemetryCharts.evolutionHistogram.data.datasets[0].data')).toEqual(want.counts);
    const labels = await evaluate<string[]>('window.telemetryCharts.evolutionHistogram.data.labels');
    expect(labels).toEqual(bounds.map((low, i) => (i + 1 < bounds.length ? `${low}–${bounds[i + 1]}` : `≥ ${low}`)));
    expect(await page.textContent('#ev-range-summary')).toContain(`${want.submissions} submissions`);
    const section = await page.$('#evolution');
    expect((await section?.screenshot({ path: path.join(os.tmpdir(), 'evolution.png') }))?.length).toBeGreaterThan(10_000);
  }, 120_000);
});
