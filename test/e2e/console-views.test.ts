/**
 * The console, grid and waterfall (issue 16, item 2) in Debian's Chromium against a real master and
 * agent: changes posted to the API start builds through change schedulers; each view shows them, a
 * cell or bar links to its build, the filters narrow what is shown through the address, and a new
 * build appears without a reload. Screenshots for docs/ui.md with UPDATE_SCREENSHOTS=1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { BuildFactory, ShellCommand, anyBranchScheduler, singleBranchScheduler } from '../../index.ts';
import type { ConsoleAnswer } from '../../protocol/api-types.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';
import {
  buildUi,
  chromiumAvailable,
  docScreenshot,
  horizontalOverflow,
  launchChromium,
  seriousA11yViolations,
} from '../helpers/browser.ts';

const TOKEN = 'views-token-1234';
describe.skipIf(!chromiumAvailable())('console, grid and waterfall in Chromium', () => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let browser: Browser;
  let page: Page;
  let revision = 0;

  /** Posts a change; its schedulers start builds of it. */
  const postChange = async (branch: string, comments: string, author = 'Ada <ada@example.org>') => {
    revision += 1;
    const res = await api(master).post('/changes', {
      repository: 'https://example.org/views.git',
      branch,
      revision: String(revision).repeat(40).slice(0, 40),
      author,
      comments,
      files: ['src/a.ts'],
    });
    expect(res.status).toBe(201);
    return res.body.changeid as number;
  };
  const finishedBuilds = async () =>
    (await api(master).get('/builds?field=complete')).body.builds.filter((b: { complete: boolean }) => b.complete).length as number;
  /** A page marker that a reload would lose: what shows an update came live. */
  const mark = (p: Page) => p.evaluate(() => Object.assign(window, { notReloaded: true }));
  const stillMarked = (p: Page) => p.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded === true);

  beforeAll(async () => {
    buildUi();
    const db = testDatabases()[0];
    if (!db) throw new Error('no test database');
    master = await startTestMaster(
      {
        title: 'Caliper views',
        agents: [{ name: 'v1', token: TOKEN, maxBuilds: 4 }],
        builders: [
          { name: 'app', tags: ['web'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'compile', command: ['true'] })) },
          { name: 'lib', tags: ['core'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'test', command: ['false'] })) },
          { name: 'slow', tags: ['web'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'nap', command: ['sleep', '60'] })) },
        ],
        schedulers: [
          singleBranchScheduler({ name: 'on-main', builderNames: ['app', 'lib'], branch: 'main' }),
          anyBranchScheduler({ name: 'on-dev', builderNames: ['app'], branchRegex: '^dev$' }),
        ],
      },
      await db.create(),
      'views-e2e',
    );
    agent = await startAgent(master, 'v1', TOKEN);
    await postChange('main', 'Speed up the parser');
    await postChange('dev', 'Try a new cache', 'Bob <bob@example.org>');
    await postChange('main', 'Fix the build\n\nThe long story.', 'Bob <bob@example.org>');
    await waitFor('five builds to finish', async () => (await finishedBuilds()) === 5, 30_000);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.kill();
    await master?.stop();
  });

  it('shows the console: changes × builders, cells linking to their builds, a branch filter, live', async () => {
    const expected = (await api(master).get<ConsoleAnswer>('/console')).body;
    await page.goto(`${master.url}/#/console`);
    const rows = page.locator('tr.console-row');
    await rows.first().waitFor({ timeout: 15_000 });
    expect(await rows.count()).toBe(3);
    expect(await page.locator('#console-table th.console-builder').allTextContents()).toEqual(['app', 'lib', 'slow']);
    const newest = expected.changes[0];
    if (!newest) throw new Error('no change');
    const first = rows.first();
    expect(await first.textContent()).toContain('Fix the build');
    expect(await first.textContent()).not.toContain('The long story');
    expect(await first.getAttribute('data-changeid')).toBe(String(newest.changeid));

    // The lib cell of the newest change: its failed build, labelled, and a link to it.
    const libBuild = newest.builds.find((b) => b.builderid === expected.builders.find((x) => x.name === 'lib')?.builderid);
    const libCell = first.locator('td[data-builder="lib"] a.console-build');
    expect(await libCell.getAttribute('data-buildid')).toBe(String(libBuild?.buildid));
    expect(await libCell.getAttribute('aria-label')).toBe(`lib #${libBuild?.number}: failure`);
    expect(await libCell.getAttribute('class')).toContain('result-failure');
    expect(await first.locator('td[data-builder="slow"]').textContent()).toContain('no build');
    await libCell.click();
    await page.waitForURL(new RegExp(`#/builds/${libBuild?.buildid}$`));

    // The branch filter: in the address, and only main's two changes remain.
    await page.goto(`${master.url}/#/console`);
    await rows.first().waitFor();
    await page.getByLabel('Branch').fill('main');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/#\/console\?branch=main$/);
    await page.waitForFunction(() => document.querySelectorAll('tr.console-row').length === 2);
    expect(await page.locator('tr.console-row', { hasText: 'Try a new cache' }).count()).toBe(0);

    // A new change on main: its row and then its builds appear without a reload.
    await mark(page);
    const changeid = await postChange('main', 'Live change');
    const row = page.locator(`tr.console-row[data-changeid="${changeid}"]`);
    await row.locator('td[data-builder="app"] a.console-build.result-success').waitFor({ timeout: 20_000 });
    await row.locator('td[data-builder="lib"] a.console-build.result-failure').waitFor({ timeout: 20_000 });
    expect(await stillMarked(page)).toBe(true);
    await docScreenshot(page, 'console');
  }, 60_000);

  it('shows the grid: builders × changes, with tag and branch filters, live', async () => {
    await waitFor('the live change’s builds', async () => (await finishedBuilds()) === 7);
    const expected = (await api(master).get<ConsoleAnswer>('/console')).body;
    await page.goto(`${master.url}/#/grid`);
    const rows = page.locator('tr.grid-row');
    await rows.first().waitFor({ timeout: 15_000 });
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-builder')))).toEqual(['app', 'lib', 'slow']);
    expect(await page.locator('th.grid-change').count()).toBe(4);
    // Every build of the answer is a link in its builder's row.
    for (const change of expected.changes)
      for (const b of change.builds) {
        const name = expected.builders.find((x) => x.builderid === b.builderid)?.name;
        const link = page.locator(`tr.grid-row[data-builder="${name}"] a.console-build[data-buildid="${b.buildid}"]`);
        expect(await link.getAttribute('href')).toBe(`#/builds/${b.buildid}`);
      }

    await page.getByLabel('Builder tags').fill('core');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/#\/grid\?tags=core$/);
    await page.waitForFunction(() => document.querySelectorAll('tr.grid-row').length === 1);
    expect(await rows.first().getAttribute('data-builder')).toBe('lib');

    await page.goto(`${master.url}/#/grid?branch=dev`);
    await page.waitForFunction(() => document.querySelectorAll('th.grid-change').length === 1);
    expect(await page.getByLabel('Branch').inputValue()).toBe('dev');

    // A new change on dev: a column with app's build appears without a reload.
    await mark(page);
    const changeid = await postChange('dev', 'Another dev change');
    await page.locator(`th.grid-change[data-changeid="${changeid}"]`).waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => document.querySelectorAll('th.grid-change').length === 2);
    await page.locator('tr.grid-row[data-builder="app"] a.console-build.result-success').nth(1).waitFor({ timeout: 20_000 });
    expect(await stillMarked(page)).toBe(true);
    await page.goto(`${master.url}/#/grid`);
    await rows.first().waitFor();
    await docScreenshot(page, 'grid');
  }, 60_000);

  it('shows the waterfall: a bar per build in the last hours, a running one growing live, a tag filter', async () => {
    await waitFor('the dev change’s build', async () => (await finishedBuilds()) === 8);
    const builds = (await api(master).get('/builds?order=buildid')).body.builds as { buildid: number; builder_name: string }[];
    await page.goto(`${master.url}/#/waterfall?hours=1`);
    await page.locator('li.wf-lane').first().waitFor({ timeout: 15_000 });
    expect(await page.getByLabel('Last').inputValue()).toBe('1');
    expect(await page.locator('li.wf-lane').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-builder')))).toEqual([
      'app',
      'lib',
      'slow',
    ]);
    for (const b of builds) {
      const bar = page.locator(`li.wf-lane[data-builder="${b.builder_name}"] a.wf-bar[data-buildid="${b.buildid}"]`);
      expect(await bar.getAttribute('href')).toBe(`#/builds/${b.buildid}`);
    }
    const libBar = page.locator('li.wf-lane[data-builder="lib"] a.wf-bar').first();
    expect(await libBar.getAttribute('aria-label')).toMatch(/^lib #1: failure, started .*, took /);

    // A build starts while the page is open: its bar appears, running, and grows with the clock.
    await mark(page);
    const forced = await api(master).post('/builders/slow/force', {});
    expect(forced.status).toBe(202);
    const running = page.locator('li.wf-lane[data-builder="slow"] a.wf-bar.result-running');
    await running.waitFor({ timeout: 20_000 });
    const before = await running.evaluate((el) => (el as HTMLElement).style.width);
    await page.waitForTimeout(1500);
    expect(await running.evaluate((el) => (el as HTMLElement).style.width)).not.toBe(before);
    expect(await stillMarked(page)).toBe(true);
    await docScreenshot(page, 'waterfall');
    const buildid = Number(await running.getAttribute('data-buildid'));
    await api(master).post(`/builds/${buildid}/stop`, {});
    await page.locator(`a.wf-bar.result-cancelled[data-buildid="${buildid}"]`).waitFor({ timeout: 20_000 });

    await page.getByLabel('Builder tags').fill('core');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/#\/waterfall\?hours=1&tags=core$/);
    await page.waitForFunction(() => document.querySelectorAll('li.wf-lane').length === 1);
    expect(await page.locator('li.wf-lane').getAttribute('data-builder')).toBe('lib');
  }, 60_000);

  // a11y.test.ts checks every page with few builds; here the cells and bars are filled.
  it('has no serious axe violation with cells and bars shown, in both schemes, and fits 380 px', async () => {
    for (const hash of ['#/console', '#/grid', '#/waterfall']) {
      for (const colorScheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme });
        await page.goto(`${master.url}/${hash}`);
        await page.locator('a.console-build, a.wf-bar').first().waitFor({ timeout: 15_000 });
        expect(await seriousA11yViolations(page), `${hash} ${colorScheme}`).toEqual([]);
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    const narrow = await browser.newPage({ viewport: { width: 380, height: 800 } });
    try {
      for (const hash of ['#/console', '#/grid', '#/waterfall']) {
        await narrow.goto(`${master.url}/${hash}`);
        await narrow.locator('a.console-build, a.wf-bar').first().waitFor({ timeout: 15_000 });
        expect(await horizontalOverflow(narrow), hash).toBeLessThanOrEqual(0);
      }
      // The keyboard reaches a cell's link, and its focus ring shows.
      await narrow.goto(`${master.url}/#/console`);
      const link = narrow.locator('a.console-build').first();
      await link.waitFor();
      await link.focus();
      expect(await link.evaluate((el) => getComputedStyle(el).outlineStyle)).not.toBe('none');
    } finally {
      await narrow.close();
    }
  }, 60_000);
});
