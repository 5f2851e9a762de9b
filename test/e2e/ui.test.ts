/**
 * The web UI in Debian's Chromium against a real master and agent: force a build from the page,
 * watch its log live, charts with data, stop and rebuild, Grafana links with and without Grafana,
 * and untrusted text shown as text.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  BuildFactory,
  MeasureShellCommand,
  ShellCommand,
  Trigger,
  grafana,
  interpolate,
  singleBranchScheduler,
  triggerableScheduler,
} from '../../index.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { ROOT, api, forceAndWait, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { buildUi, chromiumAvailable, launchChromium } from '../helpers/browser.ts';

const XSS = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`;

const config = (withGrafana: boolean): ConfigInput => ({
  title: 'Caliper e2e',
  agents: [
    { name: 'e1', token: 'e2e-token-1234', maxBuilds: 4 },
    { name: 'away', token: 'away-token-1234' }, // never connects: its builder's requests stay queued
  ],
  builders: [
    {
      name: 'hello',
      description: 'says hello',
      factory: new BuildFactory()
        .addStep(new ShellCommand({ name: 'greet', command: ['echo', interpolate('hello %(prop:who:-world)s')] }))
        .addStep(new MeasureShellCommand({ name: 'size', command: ['echo', interpolate('%(prop:size:-100)s')], unit: 'bytes' })),
    },
    { name: 'fan', factory: new BuildFactory().addStep(new Trigger({ schedulerNames: ['fan-out'], waitForFinish: true })) },
    {
      name: 'drip',
      factory: new BuildFactory().addStep(new ShellCommand({ name: 'drip', command: 'echo first; sleep 3; echo second; sleep 1' })),
    },
    {
      name: 'slow',
      factory: new BuildFactory().addStep(new ShellCommand({ name: 'nap', command: 'echo napping; sleep 305.5' })),
    },
    { name: 'parked', agents: ['away'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'x', command: 'true' })) },
    {
      name: 'hostile',
      description: XSS,
      factory: new BuildFactory().addStep(new ShellCommand({ name: 'evil', command: ['printf', '%s\\n', XSS] })),
    },
  ],
  schedulers: [
    singleBranchScheduler({ name: 'on-main', builderNames: ['hello'], branch: 'main', repository: 'https://example.org/app.git' }),
    triggerableScheduler({ name: 'fan-out', builderNames: ['hello'] }),
  ],
  services: withGrafana ? [grafana({ url: 'https://grafana.example.com', dashboardUid: 'caliper-builds' })] : [],
});

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent()) ?? '';
}

describe.skipIf(!chromiumAvailable())('web UI in Chromium', () => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    buildUi();
    master = await startTestMaster(config(true), await (testDatabases()[0] as { create(): Promise<string> }).create());
    agent = await startAgent(master, 'e1', 'e2e-token-1234');
    for (const size of [100, 104, 98, 101]) await forceAndWait(master, 'hello', { properties: { size } });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.kill();
    await master?.stop();
  });

  it('lists builders with their last result and Grafana links', async () => {
    await page.goto(`${master.url}/#/builders`);
    await page.waitForSelector('text=hello');
    const body = await text(page, 'body');
    expect(body).toContain('Caliper e2e');
    expect(body).toContain('says hello');
    const hrefs = await page.locator('a.grafana-link').evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href));
    expect(hrefs).toContain('https://grafana.example.com/d/caliper-builds?orgId=1&var-builder=hello');
  });

  it('forces a build from the page and follows it to success', async () => {
    await page.goto(`${master.url}/#/builders/hello`);
    await page.fill('form#force-form input[name=reason]', 'from the browser');
    await page.fill('form#force-form textarea[name=properties]', 'who=chromium\nsize=102');
    await page.click('form#force-form [type=submit]');
    await page.waitForURL(/#\/builds\/\d+/, { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelector('#build-result')?.textContent?.trim() === 'success', undefined, {
      timeout: 30_000,
    });
    expect(await text(page, 'li.step[data-step="greet"] .step-result')).toContain('success');
    const id = Number(/#\/builds\/(\d+)/.exec(page.url())?.[1]);
    const build = (await api(master).get(`/builds/${id}`)).body.builds[0];
    expect(build.properties.reason).toEqual(['from the browser', 'Scheduler']);
    expect(build.properties.who).toEqual(['chromium', 'Scheduler']);
    expect(build.properties.size[0]).toBe(102);
  });

  it('tails a running step’s log live over the WebSocket', async () => {
    const forced = await api(master).post('/builders/drip/force', {});
    const build = await waitFor(
      'drip build',
      async () => (await api(master).get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0],
    );
    await page.goto(`${master.url}/#/builds/${build.buildid}`);
    await page.locator('li.step[data-step="drip"] .step-head').click({ timeout: 15_000 }); // steps open on click
    const log = page.locator('li.step[data-step="drip"] .log-viewer[data-log="stdio"] pre.log-lines');
    await log.waitFor({ timeout: 15_000 });
    await page.waitForFunction(
      () => document.querySelector('li.step[data-step="drip"] pre.log-lines')?.textContent?.includes('first'),
      undefined,
      { timeout: 15_000 },
    );
    expect(await log.textContent()).not.toContain('second');
    expect(await text(page, '#build-result')).toContain('running');
    await page.waitForFunction(
      () => document.querySelector('li.step[data-step="drip"] pre.log-lines')?.textContent?.includes('second'),
      undefined,
      { timeout: 15_000 },
    );
    // "second" arrived while the step was still running (it sleeps one more second after it).
    const step = (await api(master).get(`/builds/${build.buildid}/steps`)).body.steps[0];
    expect(step.complete).toBe(false);
    await page.waitForFunction(() => document.querySelector('#build-result')?.textContent?.trim() === 'success', undefined, {
      timeout: 15_000,
    });
  });

  it('charts a series with its summary numbers', async () => {
    await page.goto(`${master.url}/#/builders/hello`);
    const chart = page.locator('.metric-chart[data-series="size"]');
    await chart.waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('.metric-chart[data-series="size"] canvas') !== null, undefined, {
      timeout: 15_000,
    });
    const canvas = chart.locator('canvas').first();
    const box = await canvas.boundingBox();
    expect(box?.width).toBeGreaterThan(200);
    // The canvas has drawn pixels (not blank).
    const inked = await canvas.evaluate((c) => {
      const ctx = (c as HTMLCanvasElement).getContext('2d');
      if (!ctx) return 0;
      const { data } = ctx.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if ((data[i] as number) > 0) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(100);
    const summary = await text(page, '.metric-chart[data-series="size"] .metric-summary');
    expect(summary).toMatch(/5/); // count: 4 builds before + 1 from the browser
    const series = (await api(master).get('/metrics/size/summary?builder=hello')).body.summary;
    expect(summary).toContain(String(series.maximum));
    expect(await page.locator('.metric-card:has(.metric-chart[data-series="size"]) a.grafana-link').getAttribute('href')).toBe(
      'https://grafana.example.com/d/caliper-builds?orgId=1&var-series=size&var-builder=hello',
    );
  });

  it('stops a running build and rebuilds a finished one from the page', async () => {
    const forced = await api(master).post('/builders/slow/force', {});
    const build = await waitFor(
      'slow build',
      async () => (await api(master).get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0],
    );
    await page.goto(`${master.url}/#/builds/${build.buildid}`);
    await page.locator('#stop-build').click({ timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('#build-result')?.textContent?.trim() === 'cancelled', undefined, {
      timeout: 20_000,
    });
    await page.locator('#rebuild-build').click({ timeout: 15_000 });
    await page.waitForURL((u) => /#\/builds\/\d+/.test(u.hash) && !u.hash.endsWith(`/${build.buildid}`), { timeout: 30_000 });
    const rebuilt = Number(/#\/builds\/(\d+)/.exec(page.url())?.[1]);
    expect(rebuilt).not.toBe(build.buildid);
    await page.locator('#stop-build').click({ timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('#build-result')?.textContent?.trim() === 'cancelled', undefined, {
      timeout: 20_000,
    });
  });

  it('cancels a queued request with its Cancel button on the builder page', async () => {
    const client = api(master);
    const kept: number = (await client.post('/builders/parked/force', { reason: 'stays queued' })).body.buildrequestid;
    const doomed: number = (await client.post('/builders/parked/force', { reason: 'to cancel' })).body.buildrequestid;
    await page.goto(`${master.url}/#/builders/parked`);
    await page.getByRole('button', { name: `Cancel request #${doomed}` }).click({ timeout: 15_000 });
    await page.locator(`tr[data-buildrequestid="${doomed}"]`).waitFor({ state: 'detached', timeout: 15_000 });
    expect((await client.get(`/buildrequests/${doomed}`)).body.buildrequests[0]).toMatchObject({ complete: true, result: 'cancelled' });
    expect((await client.get(`/buildrequests/${kept}`)).body.buildrequests[0]).toMatchObject({ complete: false });
    expect(await page.locator(`tr[data-buildrequestid="${kept}"] button`).textContent()).toBe('Cancel');
  });

  it('shows untrusted text (log, description) as text, never as markup', async () => {
    const { build } = await forceAndWait(master, 'hostile');
    await page.goto(`${master.url}/#/builds/${build.buildid}`);
    await page.locator('li.step[data-step="evil"] .step-head').click({ timeout: 15_000 });
    await page.waitForFunction((x) => document.querySelector('li.step[data-step="evil"] pre.log-lines')?.textContent?.includes(x), XSS, {
      timeout: 15_000,
    });
    await page.goto(`${master.url}/#/builders`);
    await page.waitForSelector('text=hostile');
    expect(await text(page, 'body')).toContain(XSS);
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('img[src="x"]').count()).toBe(0);
  });

  it('shows the changes a build builds, their text as text, and no changes section on a forced build', async () => {
    const client = api(master);
    const revision = '0123456789abcdef0123456789abcdef01234567';
    const posted = await client.post('/changes', {
      repository: 'https://example.org/app.git',
      branch: 'main',
      revision,
      author: 'Ada <ada@example.org>',
      comments: `${XSS}\nsecond line`,
      files: ['a.ts', 'b.ts'],
    });
    expect(posted.status).toBe(201);
    const buildid = await waitFor('the build of the posted change', async () => {
      const builds = (await client.get('/builders/hello/builds?order=-number&limit=3')).body.builds as {
        buildid: number;
        complete: boolean;
      }[];
      for (const b of builds) {
        const changes = (await client.get(`/builds/${b.buildid}/changes`)).body.changes as { changeid: number }[];
        if (b.complete && changes.some((c) => c.changeid === posted.body.changeid)) return b.buildid;
      }
      return null;
    });
    await page.goto(`${master.url}/#/builds/${buildid}`);
    const change = page.locator(`li.change[data-changeid="${posted.body.changeid}"]`);
    await change.waitFor({ timeout: 15_000 });
    const shown = (await change.textContent()) ?? '';
    expect(shown).toContain('0123456789ab');
    expect(shown).not.toContain(revision);
    expect(shown).toContain('main');
    expect(shown).toContain(XSS);
    expect(shown).not.toContain('second line');
    expect(shown).toContain('Ada <ada@example.org>');
    expect(shown).toContain('2 files');
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();

    const { build } = await forceAndWait(master, 'hello');
    await page.goto(`${master.url}/#/builds/${build.buildid}`);
    await page.waitForSelector('li.step');
    await page.waitForTimeout(300);
    expect(await page.locator('section.build-changes').isVisible()).toBe(false);
  });

  it('links a build to the builds its Trigger step requested, and back', async () => {
    const { build } = await forceAndWait(master, 'fan');
    expect(build.result).toBe('success');
    await page.goto(`${master.url}/#/builds/${build.buildid}`);
    const child = page.locator('section.build-triggered li.triggered-build a[href^="#/builds/"]');
    await child.waitFor({ timeout: 15_000 });
    expect(await page.locator('section.build-triggered li.triggered-build').textContent()).toContain('hello');
    await child.click();
    const back = page.locator('#triggered-by');
    await back.waitFor({ timeout: 15_000 });
    expect(await back.textContent()).toBe(`fan #${build.number}`);
    expect(await back.getAttribute('href')).toBe(`#/builds/${build.buildid}`);
  });

  it('fits a narrow window', async () => {
    const narrow = await browser.newPage({ viewport: { width: 380, height: 800 } });
    await narrow.goto(`${master.url}/#/builders/hello`);
    await narrow.waitForSelector('form#force-form');
    const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    if (process.env.UPDATE_SCREENSHOTS) await narrow.screenshot({ path: path.join(ROOT, 'docs/screenshots/builder-narrow.png') });
    await narrow.close();
  });

  it.runIf(Boolean(process.env.UPDATE_SCREENSHOTS))('takes the screenshots for the docs', async () => {
    fs.mkdirSync(path.join(ROOT, 'docs/screenshots'), { recursive: true });
    const shots: [string, string][] = [
      ['builders', '#/builders'],
      ['builder', '#/builders/hello'],
      ['build', `#/builds/1`],
      ['agents', '#/agents'],
    ];
    for (const [name, hash] of shots) {
      await page.goto(`${master.url}/${hash}`);
      await page.waitForTimeout(1000);
      if (name === 'build') await page.locator('li.step .step-head').first().click();
      await page.waitForTimeout(800);
      await page.screenshot({ path: path.join(ROOT, `docs/screenshots/${name}.png`), fullPage: true });
    }
  });
});

describe.skipIf(!chromiumAvailable())('web UI without Grafana', () => {
  it('shows no Grafana link on any page', async () => {
    buildUi();
    const master = await startTestMaster(config(false), await (testDatabases()[0] as { create(): Promise<string> }).create());
    const agent = await startAgent(master, 'e1', 'e2e-token-1234');
    const browser = await launchChromium();
    try {
      const { build } = await forceAndWait(master, 'hello');
      const page = await browser.newPage();
      for (const hash of ['#/', '#/builders', '#/builders/hello', `#/builds/${build.buildid}`, '#/agents']) {
        await page.goto(`${master.url}/${hash}`);
        await page.waitForLoadState('networkidle');
        await page.waitForTimeout(500);
        expect(await page.locator('a.grafana-link').count(), hash).toBe(0);
        expect(await page.content(), hash).not.toContain('grafana');
      }
    } finally {
      await browser.close();
      await agent.kill();
      await master.stop();
    }
  }, 90_000);
});
