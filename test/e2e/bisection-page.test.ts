/**
 * The bisection page `#/bisections/ID` (issues 16/18) in Debian's Chromium, against a real master, a
 * real agent and a real git repository of 8 commits where commit 5 makes the measured value 10 %
 * higher: opened while the bisection runs, it follows it without a reload until it names the culprit
 * (commit, author, subject), lists the commits looked at with their builds, and those builds' links
 * open their pages. Screenshot for docs/ui.md with UPDATE_SCREENSHOTS=1.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { BuildFactory, Git, MeasureShellCommand, interpolate } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import { silentLogger } from '../../core/logger.ts';
import type { BisectionDetail } from '../../protocol/api-types.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, type AgentProcess } from '../helpers/harness.ts';
import { buildUi, chromiumAvailable, docScreenshot, launchChromium } from '../helpers/browser.ts';
import { bisectRepo, measureCommand } from '../helpers/bisect-repo.ts';

const TOKEN = 'bisect-page-token';
const COMMITS = 8;
const SLOW_AT = 5;
describe.skipIf(!chromiumAvailable())('the bisection page in Chromium', () => {
  let dir: string;
  let shas: string[];
  let master: RunningMaster;
  let agent: AgentProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    buildUi();
    const db = testDatabases()[0];
    if (!db) throw new Error('no test database');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-bisect-page-'));
    const repo = path.join(dir, 'repo');
    shas = bisectRepo(repo, COMMITS, SLOW_AT);
    // Two seconds per build, so that the page opens on a bisection still running and sees its first
    // requested build before that build finishes.
    const measure = `sleep 2; ${measureCommand(0)}`;
    const config = compileConfig({
      agents: [{ name: 'b1', token: TOKEN }],
      builders: [
        {
          name: 'bench',
          agents: ['b1'],
          bisect: { maxBuilds: 10, maxPerDay: 100 },
          factory: new BuildFactory()
            .addStep(new Git({ repourl: repo, branch: 'main' }))
            .addStep(new MeasureShellCommand({ name: 'measure', metric: 'runtime', command: interpolate(measure) })),
        },
      ],
    });
    master = await startMaster(config, {
      port: 0,
      host: '127.0.0.1',
      dbUrl: await db.create(),
      log: silentLogger,
      basedir: dir,
      name: 'bisect-page-e2e',
      shutdownTimeoutMs: 5000,
    });
    agent = await startAgent(master, 'b1', TOKEN);
    // The good and bad ends built first, as the builds that revealed the change: the bisection borrows them.
    for (const revision of [shas[0], shas[COMMITS - 1]]) {
      const { build } = await forceAndWait(master, 'bench', { properties: { revision } });
      if (build.results !== 0) throw new Error(`building ${revision}: results ${String(build.results)}`);
    }
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await master?.stop();
    await agent?.kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('follows a running bisection to its culprit without a reload, its builds linked', async () => {
    const res = await api(master).post('/bisections', {
      builder: 'bench',
      series: 'runtime',
      tags: { builder: 'bench' },
      good: shas[0],
      bad: shas[COMMITS - 1],
    });
    expect(res.status).toBe(201);
    const id = res.body.bisectionid as number;

    await page.goto(`${master.url}/#/bisections/${id}`);
    await page.locator('#bisection-state').waitFor();
    expect(await page.locator('#bisection-state').textContent()).toBe('running');
    expect(await page.locator('#bisection-culprit').count()).toBe(0);
    // A mark a reload would wipe: the page must get to the culprit with it still there.
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    // The first commit the search builds shows up while its build is under way, not once it is judged
    // (the bisector requests it after the events a page hears: the page must read again).
    await page.waitForFunction(
      () => document.querySelectorAll('table.bisection-steps tbody tr')[2]?.querySelectorAll('td')[4]?.textContent === 'pending',
      undefined,
      { timeout: 20_000 },
    );

    await page.waitForFunction(() => document.querySelector('#bisection-state')?.textContent === 'found', undefined, {
      timeout: 90_000,
    });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    const culprit = shas[SLOW_AT] as string;
    expect(await page.locator('#bisection-culprit').getAttribute('title')).toBe(culprit);
    expect(await page.locator('#bisection-culprit').textContent()).toBe(culprit.slice(0, 12));
    const facts = (await page.locator('dl.bisection-facts').textContent()) ?? '';
    expect(facts).toContain(`Make it slower (#${SLOW_AT})`);
    expect(facts).toContain('by Ada <ada@example.org>');
    expect(facts).toContain('7 commits');

    // The page shows what the API says: every commit looked at, with its builds and verdict.
    const { steps } = (await api(master).get<BisectionDetail>(`/bisections/${id}`)).body;
    expect(steps.map((s) => s.role).slice(0, 2)).toEqual(['good', 'bad']);
    expect(steps.length).toBeGreaterThan(2);
    await expect.poll(() => page.locator('table.bisection-steps tbody tr').count()).toBe(steps.length);
    const buildLinks: string[] = [];
    for (const s of steps) {
      const row = page.locator(`tr[data-revision="${s.revision}"]`);
      expect(await row.locator('td').nth(4).textContent(), s.revision).toBe(s.verdict);
      const expected = s.builds.map((b) => `#/builds/${String(b.buildid)}`);
      const hrefs = await row.locator('a[href^="#/builds/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      expect(hrefs, s.revision).toEqual(expected);
      buildLinks.push(...expected);
    }
    // The culprit was built and judged bad: the bisection ends on it.
    expect(await page.locator(`tr[data-revision="${culprit}"] td`).nth(4).textContent()).toBe('bad');
    await docScreenshot(page, 'bisection');

    // The links resolve: one clicked opens its build's page (a middle commit's, built for the
    // bisection), and every one names a build the API has.
    const link = page.locator(`tr[data-revision="${culprit}"] a[href^="#/builds/"]`).first();
    const href = (await link.getAttribute('href')) ?? '';
    await link.click();
    await page.waitForURL(new RegExp(`${href.replace(/[/#]/g, '\\$&')}$`));
    await page.waitForFunction(() => document.querySelector('#build-result')?.textContent?.trim() === 'success', undefined, {
      timeout: 30_000,
    });
    // The build's page leads back: it was requested by the bisection (its property `bisect`).
    expect(await page.locator('#bisection-link').getAttribute('href')).toBe(`#/bisections/${id}`);
    for (const h of buildLinks) {
      const buildid = Number(h.split('/').pop());
      const { status, body } = await api(master).get<{ builds: { buildid: number }[] }>(`/builds/${buildid}`);
      expect(status, h).toBe(200);
      expect(body.builds[0]?.buildid).toBe(buildid);
    }
  }, 150_000);
});
