/**
 * The metrics explorer (`#/metrics`) in Debian's Chromium against a real master and agent, with
 * points posted through `POST /api/v2/metrics/{series}/points`: pick series, filter by a tag, split
 * into lines with a legend, overlay a second series, the regression band's flagged points, a change
 * point marked where a step was put, the Grafana link, and a reload that restores the whole state.
 * The builder page's charts carry the same marks. Screenshot for docs/ui.md with UPDATE_SCREENSHOTS=1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { BuildFactory, MeasureShellCommand, grafana } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { ROOT, api, forceAndWait, startAgent, startTestMaster, type AgentProcess } from '../helpers/harness.ts';
import { buildUi, chromiumAvailable, launchChromium } from '../helpers/browser.ts';

const shots = Boolean(process.env.UPDATE_SCREENSHOTS);
const GRAFANA = 'https://grafana.example.com/d/caliper-builds?orgId=1';
const POINTS = 40;
/** Where bench_ms on os=linux steps from ~100 to ~125 ms. */
const STEP_AT = 24;

/** Small deterministic noise: the same figures on every run. */
const wiggle = (i: number) => ((i * 7919) % 11) / 10 - 0.5;

describe.skipIf(!chromiumAvailable())('the metrics explorer in Chromium', () => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let browser: Browser;
  let page: Page;
  let buildid: number;
  const start = Math.floor(Date.now() / 1000) - POINTS * 600;

  beforeAll(async () => {
    buildUi();
    const db = testDatabases()[0];
    if (!db) throw new Error('no test database');
    master = await startTestMaster(
      {
        title: 'Caliper explorer',
        agents: [{ name: 'x1', token: 'explorer-token-1234' }],
        builders: [
          {
            name: 'app',
            factory: new BuildFactory().addStep(new MeasureShellCommand({ name: 'size', command: ['echo', '120'], unit: 'bytes' })),
          },
        ],
        services: [grafana({ url: 'https://grafana.example.com', dashboardUid: 'caliper-builds' })],
      },
      await db.create(),
      'explorer-e2e',
    );
    agent = await startAgent(master, 'x1', 'explorer-token-1234');
    const client = api(master);
    const post = async (series: string, unit: string, points: Record<string, unknown>[]) => {
      const res = await client.post(`/metrics/${series}/points`, { kind: 'duration', unit, points });
      if (res.status !== 201) throw new Error(`posting ${series}: ${JSON.stringify(res.body)}`);
    };
    const at = (i: number, os: string) => start + i * 600 + (os === 'mac' ? 30 : 0);
    for (const os of ['linux', 'mac']) {
      await post(
        'bench_ms',
        'ms',
        Array.from({ length: POINTS }, (_, i) => ({
          time: at(i, os),
          value: (os === 'linux' && i >= STEP_AT ? 125 : 100) + wiggle(i),
          tags: { builder: 'app', branch: 'main', os },
          revision: `r${i}`,
        })),
      );
      await post(
        'heap_mb',
        'MB',
        Array.from({ length: POINTS }, (_, i) => ({
          time: at(i, os),
          value: 512 + wiggle(i) * 4,
          tags: { builder: 'app', branch: 'main', os },
        })),
      );
    }
    // The build's own step series: a level of 100 bytes for 24 points, then 130, then the real build (120).
    await post(
      'size',
      'bytes',
      Array.from({ length: POINTS }, (_, i) => ({
        time: start + i * 600,
        value: (i >= STEP_AT ? 130 : 100) + wiggle(i),
        tags: { builder: 'app', step: 'size' },
      })),
    );
    buildid = (await forceAndWait(master, 'app')).build.buildid as number;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.kill();
    await master?.stop();
  });

  const legend = (p: Page) =>
    p.locator('.explorer-chart .u-legend .u-series th').evaluateAll((ths) => ths.map((t) => (t.textContent ?? '').trim()).filter((t) => t));

  it('offers the tags the store holds', async () => {
    const res = await api(master).get('/metrics/bench_ms/tags');
    expect((await api(master).get('/metrics/size/tags')).body.tags).toEqual({
      agent: ['x1'],
      builder: ['app'],
      step: ['size'],
    });
    expect(res.status).toBe(200);
    expect(res.body.tags).toEqual({ branch: ['main'], builder: ['app'], os: ['linux', 'mac'] });
    expect((await api(master).get('/metrics')).body.meta.regression).toEqual({ window: expect.any(Number), threshold: 3 });
    expect((await api(master).get('/metrics/nope/tags')).status).toBe(404);
  });

  it('charts a series, filters it, splits it into lines, overlays another, and a reload restores all of it', async () => {
    await page.goto(`${master.url}/#/metrics`);
    await page.locator('.explorer-empty').waitFor();
    // The searchable list: typing narrows it.
    await page.fill('#series-search', 'bench');
    await page.locator('#series-options input[data-series="bench_ms"]').waitFor();
    expect(await page.locator('#series-options input[data-series="heap_mb"]').count()).toBe(0);
    await page.check('#series-options input[data-series="bench_ms"]');
    await page.locator('.explorer-chart[data-lines="1"] .uplot').waitFor();
    expect(page.url()).toContain('#/metrics?series=bench_ms');

    // Filter by a user tag: the values come from the store.
    await page.locator('#filter-os option[value="mac"]').waitFor({ state: 'attached' });
    await page.selectOption('#filter-os', 'linux');
    await page.waitForFunction(() => location.hash.includes('tag.os=linux'));
    await page.locator('.explorer-chart[data-lines="1"] .uplot').waitFor();
    // The step of linux's points is a detected change, marked on the chart as worse (a duration grew).
    const mark = page.locator('.explorer-chart .change-mark.change-worse').first();
    await mark.waitFor();
    const label = (await mark.locator('.change-label').getAttribute('aria-label')) ?? '';
    expect(label).toMatch(/bench_ms worse by \+2\d\.\d %/);
    expect(label).toMatch(/p [<=] 0\.\d+/);
    expect(await mark.getAttribute('data-time')).toBe(String(start + STEP_AT * 600));
    // The list comes with the marks, a moment after the chart (the changes are their own request).
    await expect.poll(() => page.locator('.explorer-chart .change-list li').count()).toBe(1);
    // The band flags the first points after the step.
    await expect.poll(async () => Number(await page.locator('.explorer-chart').getAttribute('data-flags'))).toBeGreaterThan(0);
    await page.locator('.flag-list').waitFor({ state: 'attached' });

    // Split instead: one line per os, named in the legend.
    await page.selectOption('#filter-os', '');
    await page.selectOption('#explorer-split', 'os');
    // The chart's element (with data-lines) is in place a frame before uPlot draws it and its legend.
    await page.locator('.explorer-chart[data-lines="2"] .uplot').waitFor();
    await expect.poll(() => legend(page)).toEqual(expect.arrayContaining(['os=linux', 'os=mac']));

    // Overlay a second series (another unit: its own axis).
    await page.fill('#series-search', '');
    await page.check('#series-options input[data-series="heap_mb"]');
    await page.locator('.explorer-chart[data-lines="4"] .uplot').waitFor();
    await expect
      .poll(() => legend(page))
      .toEqual(expect.arrayContaining(['bench_ms · os=linux', 'bench_ms · os=mac', 'heap_mb · os=linux', 'heap_mb · os=mac']));
    await page.selectOption('#explorer-range', '30d');
    await page.selectOption('#filter-builder', 'app');
    await page.locator('.explorer-chart[data-lines="4"] .uplot').waitFor();

    // Grafana: the same series, builder and range.
    const href = await page.locator('a.grafana-link').getAttribute('href');
    expect(href).toBe(`${GRAFANA}&var-series=bench_ms&var-series=heap_mb&var-builder=app&from=now-30d&to=now`);

    const before = page.url();
    expect(before).toContain('range=30d');
    await page.reload();
    await page.locator('.explorer-chart[data-lines="4"] .uplot').waitFor();
    expect(page.url()).toBe(before);
    expect(await page.isChecked('#series-options input[data-series="bench_ms"]')).toBe(true);
    expect(await page.isChecked('#series-options input[data-series="heap_mb"]')).toBe(true);
    expect(await page.inputValue('#explorer-split')).toBe('os');
    expect(await page.inputValue('#explorer-range')).toBe('30d');
    expect(await page.inputValue('#filter-builder')).toBe('app');
    expect(await legend(page)).toEqual(expect.arrayContaining(['heap_mb · os=mac']));
    expect(await page.locator('a.grafana-link').getAttribute('href')).toBe(href);

    if (shots) {
      fs.mkdirSync(path.join(ROOT, 'docs/screenshots'), { recursive: true });
      await page.goto(`${master.url}/#/metrics?series=bench_ms&split=os`);
      await page.locator('.explorer-chart[data-lines="2"] .uplot').waitFor();
      await page.waitForTimeout(500);
      await page.screenshot({ path: path.join(ROOT, 'docs/screenshots/metrics.png'), fullPage: true });
    }
  }, 60_000);

  it('hides the band on request, and a custom range keeps only its points', async () => {
    await page.goto(`${master.url}/#/metrics?series=bench_ms&tag.os=linux&band=0`);
    await page.locator('.explorer-chart .uplot').waitFor();
    expect(await page.isChecked('#explorer-band')).toBe(false);
    expect(await page.locator('.flag-list').count()).toBe(0);
    await page.check('#explorer-band');
    await page.locator('.flag-list').waitFor({ state: 'attached' });
    expect(page.url()).not.toContain('band=0');

    // A range that ends before the step: no change, no mark.
    const to = start + (STEP_AT - 2) * 600;
    await page.goto(`${master.url}/#/metrics?series=bench_ms&tag.os=linux&from=${start - 60}&to=${to}`);
    await page.locator('.explorer-chart .uplot').waitFor();
    expect(await page.inputValue('#explorer-range')).toBe('custom');
    expect(await page.isVisible('#explorer-from')).toBe(true);
    expect(await page.locator('.change-mark').count()).toBe(0);
  }, 30_000);

  it('marks the change on the builder page chart too', async () => {
    await page.goto(`${master.url}/#/builders/app`);
    const chart = page.locator('.metric-chart[data-series="bench_ms"]');
    await chart.locator('.uplot').waitFor({ timeout: 15_000 });
    await chart.locator('.change-mark.change-worse').first().waitFor();
    expect(await chart.locator('.change-list li').count()).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it("marks the change on a build's step chart", async () => {
    await page.goto(`${master.url}/#/builds/${buildid}`);
    await page.locator('li.step .step-head', { hasText: 'size' }).first().click();
    const chart = page.locator('.step-chart .metric-chart[data-series="size"]');
    await chart.locator('.uplot').waitFor({ timeout: 15_000 });
    const mark = chart.locator('.change-mark').first();
    await mark.waitFor();
    expect(await mark.getAttribute('data-time')).toBe(String(start + STEP_AT * 600));
  }, 30_000);
});
