import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser.js';
import { REPO_ROOT } from '../support/fixtures.js';
import { baselinePing, GLEAN_AGENT } from '../support/glean.js';
import { startTestPipeline, type TestPipeline } from '../support/pipeline.js';
import { waitFor } from '../support/services.js';

const CHANNELS = ['release', 'beta', 'nightly', 'aurora'];
const VERSIONS = ['23.0.1', '24.0', '25.0a2', '26.0a1'];

// Page-side expressions (strings: this project's type-check has no DOM library).
// The dashboard exposes its Chart.js instances as window.telemetryCharts.
const CHART_TOTAL = (name: string) =>
  `(window.telemetryCharts.${name}.data.datasets.reduce((s, d) => s + d.data.reduce((a, b) => a + b, 0), 0))`;

function ping(i: number): { path: string; body: string } {
  const channel = CHANNELS[i % CHANNELS.length] ?? 'release';
  const version = VERSIONS[(i * 7) % VERSIONS.length] ?? '23.0.1';
  const info = { reason: 'saved-session', appName: 'Firefox', appUpdateChannel: channel, appVersion: version, appBuildID: '20131029030201' };
  return { path: `dash-${Date.now()}-${i}/saved-session/Firefox/${version}/${channel}/20131029030201`, body: JSON.stringify({ ver: 2, info }) };
}

async function send(p: TestPipeline, count: number, offset: number): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const { path: submitPath, body } = ping(offset + i);
    expect((await p.submit(submitPath, body)).status).toBe(200);
  }
}

describe('dashboard in headless Chromium', () => {
  let p: TestPipeline;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    p = await startTestPipeline('dashboard', { stats: true });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  });
  afterAll(async () => {
    await browser?.close();
    await p?.stop();
  });

  it('explains itself when there is no data yet', async () => {
    await page.goto(p.statsUrl);
    await page.waitForFunction(`!document.getElementById('empty-state').hidden`);
    expect(await page.textContent('#empty-state h2')).toContain('No submissions');
  });

  it('draws its charts with data and updates them when new pings arrive', async () => {
    await send(p, 40, 0);
    await page.reload();
    await page.waitForFunction(`document.getElementById('live-state').textContent === 'live'`);
    await page.waitForFunction(`${CHART_TOTAL('channels')} > 0 && ${CHART_TOTAL('versions')} > 0 && ${CHART_TOTAL('flow')} > 0`, undefined, { timeout: 20_000 });
    expect(await page.isHidden('#empty-state')).toBe(true);
    const channelLabels = await page.evaluate<string[]>(`window.telemetryCharts.channels.data.datasets.map((d) => d.label)`);
    expect([...channelLabels].sort()).toEqual([...CHANNELS].sort());
    expect(Number(await page.textContent('#received-total'))).toBe(40);

    // Glean pings (the generic form) show beside telemetry, by namespace and docType.
    for (const docType of ['baseline', 'baseline', 'metrics']) {
      const body = gzipSync(JSON.stringify(baselinePing()));
      const response = await fetch(`${p.baseUrl}/submit/firefox-desktop/${docType}/1/${randomUUID()}`, { method: 'POST', body, headers: { 'content-encoding': 'gzip', 'x-telemetry-agent': GLEAN_AGENT } });
      expect(response.status).toBe(200);
    }
    await page.waitForFunction(`['telemetry', 'firefox-desktop'].every((n) => window.telemetryCharts.namespaces.data.labels.includes(n))`, undefined, { timeout: 20_000 });
    await page.waitForFunction(`window.telemetryCharts.docTypes.data.labels.includes('baseline')`, undefined, { timeout: 20_000 });

    // A few seconds of live points and two filed errors make a screenshot that shows every chart.
    expect((await p.submit(`dash-bad-${Date.now()}/saved-session/Firefox/24.0/beta/1`, '{"ver":')).status).toBe(200);
    expect((await p.submit(`dash-bad2-${Date.now()}/saved-session/Firefox/24.0/beta/1`, '{"ver": 9, "info": {}}')).status).toBe(200);
    await page.waitForFunction(
      `window.telemetryCharts.flow.data.labels.length >= 4 && window.telemetryCharts.errors.data.labels.length === 2`,
      undefined,
      { timeout: 20_000 },
    );
    // The README's screenshot is refreshed on request only: a test run must not change tracked files.
    const screenshot = process.env.UPDATE_DOCS_SCREENSHOT ? path.join(REPO_ROOT, 'docs', 'dashboard.png') : path.join(os.tmpdir(), 'dashboard.png');
    expect((await page.screenshot({ path: screenshot, fullPage: true })).length).toBeGreaterThan(10_000);

    await send(p, 15, 40);
    await waitFor('the live total to update', async () => Number(await page.textContent('#received-total')) === 60, 20_000);
    await waitFor('the versions chart to update', async () => (await page.evaluate(CHART_TOTAL('versions'))) === 57, 20_000);
  });
});
