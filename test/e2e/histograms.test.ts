import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';

/** Writes aggregates in the histogram job's output format (docs/MAPREDUCE.md). */
async function writeAggregates(dir: string): Promise<void> {
  const entry = (channel: string, version: string, records: number, counts: number[]) => ({
    reason: 'saved-session',
    appName: 'Firefox',
    appUpdateChannel: channel,
    appVersion: version,
    records,
    histograms: {
      GC_MS: { bounds: [0, 1, 3, 8, 21], counts, sum: 100, log_sum: -1, log_sum_squares: -1, sum_squares_lo: -1, sum_squares_hi: -1, records },
      CYCLE_COLLECTOR: { bounds: [0, 10, 100], counts: [1, 2, 3], sum: 6, log_sum: -1, log_sum_squares: -1, sum_squares_lo: -1, sum_squares_hi: -1, records },
    },
  });
  const files = [
    ['saved_session/Firefox/nightly/28_0a1.json', entry('nightly', '28.0a1', 4, [5, 9, 2, 0, 1])],
    ['saved_session/Firefox/nightly/22_0a1.json', entry('nightly', '22.0a1', 1, [0, 1, 0, 0, 0])],
    ['saved_session/Firefox/release/23_0_1.json', entry('release', '23.0.1', 7, [1, 1, 1, 1, 1])],
  ] as const;
  for (const [file, content] of files) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), JSON.stringify(content));
  }
  const index = {
    generatedAt: new Date().toISOString(),
    entries: files.map(([file, c]) => ({ ...c, file, histograms: Object.keys(c.histograms) })),
  };
  await writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
}

describe('dashboard histogram view in headless Chromium', () => {
  let p: TestPipeline;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    p = await startTestPipeline('histview', { stats: true, workers: 0 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1200 } });
  });
  afterAll(async () => {
    await browser?.close();
    await p?.stop();
  });

  it('says how to produce aggregates when there are none', async () => {
    await page.goto(p.statsUrl);
    await page.waitForSelector('#histogram-empty', { state: 'visible' });
    expect(await page.isHidden('#histogram-view')).toBe(true);
  });

  it('lets one choose channel, version and histogram and draws the distribution', async () => {
    await writeAggregates(path.join(p.env.dir, 'dashboard-data'));
    await page.reload();
    await page.waitForSelector('#histogram-view', { state: 'visible' });
    // It opens on the entry with the most records (release 23.0.1: 7), not on the first name in sort order.
    await page.waitForFunction(`window.telemetryCharts.histogram.data.datasets[0].data.join(',') === '1,2,3'`);
    expect([await page.inputValue('#histogram-channel'), await page.inputValue('#histogram-version')]).toEqual(['release', '23.0.1']);
    await page.selectOption('#histogram-channel', 'nightly');
    await page.selectOption('#histogram-version', '28.0a1');
    await page.selectOption('#histogram-name', 'GC_MS');
    await page.waitForFunction(`window.telemetryCharts.histogram.data.datasets[0].data.join(',') === '5,9,2,0,1'`);
    expect(await page.evaluate<string[]>(`window.telemetryCharts.histogram.data.labels`)).toEqual(['0', '1', '3', '8', '21']);
    expect(await page.textContent('#histogram-records')).toBe('4');

    await page.selectOption('#histogram-channel', 'release');
    await page.waitForFunction(`window.telemetryCharts.histogram.data.datasets[0].data.join(',') === '1,1,1,1,1'`);
    expect(await page.inputValue('#histogram-version')).toBe('23.0.1');
    expect(await page.textContent('#histogram-records')).toBe('7');
  });
});
