/**
 * The pages a team opens every day, in Debian's Chromium against a real master and agent: the
 * overview (running builds with their step and elapsed time, latest builds, failing builders, agents,
 * regressions, all following /ws), the changes page with its filters, an agent's page, and the
 * comparison of two builds. Screenshots for docs/ui.md with UPDATE_SCREENSHOTS=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { BuildFactory, MeasureShellCommand, ShellCommand, interpolate } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, type AgentProcess } from '../helpers/harness.ts';
import { buildUi, chromiumAvailable, docScreenshot, launchChromium } from '../helpers/browser.ts';

describe.skipIf(!chromiumAvailable())('the daily pages in Chromium', () => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let browser: Browser;
  let page: Page;
  let regressed: { buildid: number; number: number };
  let lastGood: { buildid: number };

  beforeAll(async () => {
    buildUi();
    const db = testDatabases()[0];
    if (!db) throw new Error('no test database');
    master = await startTestMaster(
      {
        title: 'Caliper daily',
        agents: [
          { name: 'a1', token: 'daily-token-1234', labels: ['linux'], maxBuilds: 3 },
          { name: 'gone', token: 'gone-token-1234' },
        ],
        builders: [
          {
            name: 'app',
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'compile', command: ['echo', 'compiled'] }))
              .addStep(new MeasureShellCommand({ name: 'size', command: ['echo', interpolate('%(prop:size:-100)s')], unit: 'bytes' })),
          },
          { name: 'broken', factory: new BuildFactory().addStep(new ShellCommand({ name: 'fail', command: ['false'] })) },
          {
            name: 'slow',
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'warm-up', command: ['true'] }))
              .addStep(new ShellCommand({ name: 'nap', command: ['sleep', '60'] })),
          },
        ],
      },
      await db.create(),
      'daily-e2e',
    );
    agent = await startAgent(master, 'a1', 'daily-token-1234');
    for (const size of [100, 102, 99, 101]) lastGood = (await forceAndWait(master, 'app', { properties: { size } })).build;
    regressed = (await forceAndWait(master, 'app', { properties: { size: 250 } })).build;
    await forceAndWait(master, 'broken');
    const client = api(master);
    const change = (branch: string, author: string, comments: string, revision: string) =>
      client.post('/changes', { repository: 'https://example.org/app.git', branch, author, comments, revision, files: ['a.ts'] });
    await change('main', 'Ada <ada@example.org>', 'Speed up the parser', 'a'.repeat(40));
    await change('dev', 'Bob <bob@example.org>', 'Try a new cache', 'b'.repeat(40));
    await change('main', 'Bob <bob@example.org>', 'Fix the build', 'c'.repeat(40));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.kill();
    await master?.stop();
  });

  it('shows the overview and keeps it live', async () => {
    const client = api(master);
    await page.goto(`${master.url}/#/`);
    await page.locator('#overview-latest tr[data-buildid]').first().waitFor({ timeout: 15_000 });
    expect(await page.locator('#overview-running').textContent()).toContain('No build is running.');
    expect(await page.locator('#overview-failing li[data-builder]').allTextContents()).toEqual([expect.stringContaining('broken')]);
    expect(await page.locator('#overview-agents .agent-counts').textContent()).toBe('1 online, 1 offline');
    expect(await page.locator('#overview-agents li[data-agent="gone"]').textContent()).toContain('offline');
    const regression = page.locator(`#overview-regressions tr[data-series="size"][data-buildid="${regressed.buildid}"]`);
    await regression.waitFor({ timeout: 15_000 });
    expect(await regression.textContent()).toContain('250 bytes');

    // A build starts while the page is open: it shows up running, with its current step, and counts up.
    const forced = await client.post('/builders/slow/force', {});
    const running = page.locator('#overview-running tr[data-buildid]');
    await page.locator('#overview-running td.current-step', { hasText: 'nap' }).waitFor({ timeout: 20_000 });
    const first = await running.locator('td.elapsed').textContent();
    await page.waitForTimeout(2200);
    expect(await running.locator('td.elapsed').textContent()).not.toBe(first);
    const build = (await client.get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0];
    expect(await page.locator(`#overview-latest tr[data-buildid="${build.buildid}"]`).count()).toBe(1);
    await docScreenshot(page, 'overview');
    if (process.env.UPDATE_SCREENSHOTS) {
      await page.emulateMedia({ colorScheme: 'dark' });
      await docScreenshot(page, 'overview-dark');
      await page.emulateMedia({ colorScheme: 'light' });
    }

    // Stopped: it leaves "Running now" and the latest builds show it cancelled, all without a reload.
    await client.post(`/builds/${build.buildid}/stop`, {});
    await page.locator('#overview-running', { hasText: 'No build is running.' }).waitFor({ timeout: 20_000 });
    await page.locator(`#overview-latest tr[data-buildid="${build.buildid}"]`, { hasText: 'cancelled' }).waitFor({ timeout: 10_000 });
  }, 60_000);

  it('lists changes and filters them by branch and author through the URL', async () => {
    await page.goto(`${master.url}/#/changes`);
    const rows = page.locator('tr.change-row');
    await rows.first().waitFor({ timeout: 15_000 });
    expect(await rows.count()).toBe(3);
    expect(await rows.first().textContent()).toContain('Fix the build'); // newest first
    await page.getByLabel('Branch').fill('main');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/#\/changes\?branch=main$/);
    await page.waitForFunction(() => document.querySelectorAll('tr.change-row').length === 2);
    await page.getByLabel('Author').fill('bob');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/#\/changes\?branch=main&author=bob$/);
    await page.waitForFunction(() => document.querySelectorAll('tr.change-row').length === 1);
    expect(await rows.first().textContent()).toContain('Fix the build');
    await page.goto(`${master.url}/#/changes?author=nobody`);
    await page.locator('.page-changes', { hasText: 'No change matches the filter.' }).waitFor();
    await page.goto(`${master.url}/#/changes`);
    await rows.first().waitFor();
    await docScreenshot(page, 'changes');
  });

  it('shows an agent with its builds, and one that never connected', async () => {
    await page.goto(`${master.url}/#/agents`);
    await page.locator('a.agent-link', { hasText: 'a1' }).click();
    await page.waitForURL(/#\/agents\/a1$/);
    await page.locator('#agent-status', { hasText: 'connected' }).waitFor({ timeout: 15_000 });
    await page.locator(`table.agent-builds tr[data-buildid="${regressed.buildid}"]`).waitFor();
    const total = (await api(master).get('/builds?agent=a1')).body.meta.total;
    expect(await page.locator('table.agent-builds tr[data-buildid]').count()).toBe(total);
    await docScreenshot(page, 'agent');
    await page.goto(`${master.url}/#/agents/gone`);
    await page.locator('#agent-status', { hasText: 'offline' }).waitFor();
    expect(await page.locator('.agent-facts').textContent()).toContain('never');
    await page.locator('.page-agent', { hasText: 'This agent has run no build yet.' }).waitFor();
  });

  it('compares a build with the previous successful one: steps and values with deltas', async () => {
    await page.goto(`${master.url}/#/builds/${regressed.buildid}`);
    await page.locator('#compare-link').click({ timeout: 15_000 });
    await page.waitForURL(new RegExp(`#/compare/${regressed.buildid}/previous$`));
    const size = page.locator('table.compare-values tr[data-series="size"]');
    await size.waitFor({ timeout: 15_000 });
    const cells = await size.locator('td').allTextContents();
    expect(cells).toEqual(['250 bytes', '101 bytes', '+149 bytes', '+147.5 %']);
    expect(await size.locator('td.worse').count()).toBe(2);
    expect(await page.locator('.compare-build[data-side="B"] a').getAttribute('href')).toBe(`#/builds/${lastGood.buildid}`);
    const compile = await page.locator('table.compare-steps tr[data-step="compile"] td').allTextContents();
    expect(compile[0]).toBe('success');
    expect(compile[2]).toBe('success');
    await docScreenshot(page, 'compare');

    // Any two builds by id, from the form; a step only one of them ran shows an empty side.
    const broken = (await api(master).get('/builders/broken/builds?order=-number&limit=1')).body.builds[0];
    await page.getByLabel(/Compare build \d+ with build id/).fill(String(broken.buildid));
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.waitForURL(new RegExp(`#/compare/${regressed.buildid}/${broken.buildid}$`));
    const fail = page.locator('table.compare-steps tr[data-step="fail"] td');
    await fail.first().waitFor({ timeout: 15_000 });
    expect(await fail.allTextContents()).toEqual(['–', '–', 'failure', expect.any(String), '–', '–']);
    expect(await page.locator('table.compare-values tr[data-series="size"] td').allTextContents()).toEqual(['250 bytes', '–', '–', '–']);

    await page.getByLabel(/Compare build \d+ with build id/).fill('12x');
    await page.getByRole('button', { name: 'Compare' }).click();
    await page.locator('#message', { hasText: '"12x" is not a build id' }).waitFor();

    await page.goto(`${master.url}/#/compare/${regressed.buildid}/999999`);
    await page.locator('.page-compare .error', { hasText: 'No such build' }).waitFor({ timeout: 15_000 });
  });

  it('says so when a build has no earlier success to compare with', async () => {
    const first = (await api(master).get('/builders/broken/builds?order=number&limit=1')).body.builds[0];
    await page.goto(`${master.url}/#/compare/${first.buildid}/previous`);
    await page.locator('.page-compare', { hasText: 'has no successful build before' }).waitFor({ timeout: 15_000 });
  });
});
