/**
 * Issue 14's UI follow-ups in Debian's Chromium against a real master and agent: a build's page
 * shows the `npx caliper try` line that re-creates it (quoted so a shell gives `caliper try` the
 * same words), a matrix builder's charts split by an axis, and the changes page lists each change's
 * builds (from `GET /api/v2/changes/ID/buildrequests`).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { BuildFactory, MeasureShellCommand, ShellCommand, interpolate, singleBranchScheduler } from '../../index.ts';
import type { Buildset, BuildRequest } from '../../protocol/api-types.ts';
import type { RunningMaster } from '../../master/master.ts';
import { parseTryArgs } from '../../master/try/try-command.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { buildUi, chromiumAvailable, launchChromium } from '../helpers/browser.ts';

const TOKEN = 'try-e2e-token-1234';
const REPO = 'https://example.org/try.git';

/** The words a POSIX shell makes of `line` (what `caliper try` would receive as its argv). */
function shellWords(line: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `for w in ${line}; do printf '%s\\0' "$w"; done`]).toString();
  return out.split('\0').slice(0, -1);
}

describe.skipIf(!chromiumAvailable())('local-run command, split charts and a change’s builds in Chromium', () => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let browser: Browser;
  let page: Page;
  let gridSet: Buildset;

  beforeAll(async () => {
    buildUi();
    const db = testDatabases()[0];
    if (!db) throw new Error('no test database');
    master = await startTestMaster(
      {
        title: 'Caliper try e2e',
        agents: [{ name: 't1', token: TOKEN, maxBuilds: 4 }],
        builders: [
          {
            name: 'plain app',
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'greet', command: ['echo', interpolate('%(prop:who:-world)s')] })),
          },
          {
            name: 'grid',
            matrix: { node: ['18', '20'] },
            factory: new BuildFactory().addStep(
              new MeasureShellCommand({ name: 'size', command: ['echo', interpolate('%(prop:node)s')], metric: 'grid_size' }),
            ),
          },
        ],
        schedulers: [singleBranchScheduler({ name: 'on-main', builderNames: ['plain app'], branch: 'main', repository: REPO })],
      },
      await db.create(),
      'try-e2e',
    );
    agent = await startAgent(master, 't1', TOKEN);
    const client = api(master);
    // Two forces of the matrix: four points, two per value of the axis.
    for (let i = 0; i < 2; i++) {
      const forced = await client.post('/builders/grid/force', {});
      const request = (await client.get(`/buildrequests/${forced.body.buildrequestid}`)).body.buildrequests[0] as BuildRequest;
      gridSet = await waitFor('the matrix to complete', async () => {
        const set = (await client.get(`/buildsets/${request.buildsetid}`)).body.buildsets[0] as Buildset;
        return set.complete ? set : null;
      });
    }
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.kill();
    await master?.stop();
  });

  it('shows the command that re-creates a forced build, quoted for a shell', async () => {
    const { build } = await forceAndWait(master, 'plain app', { properties: { who: "O'Brien $HOME `x`", size: 3 } });
    await page.goto(`${master.url}/#/builds/${build.buildid}`);
    const code = page.locator('code#try-command');
    await code.waitFor({ timeout: 15_000 });
    const line = (await code.textContent()) ?? '';
    expect(line).toBe(`npx caliper try 'plain app' --property 'size=3' --property 'who=O'\\''Brien $HOME \`x\`'`);
    // The shell hands `caliper try` exactly the builder and properties the build got.
    const words = shellWords(line);
    expect(words.slice(0, 3)).toEqual(['npx', 'caliper', 'try']);
    const args = parseTryArgs(words.slice(3));
    expect(args.builder).toBe('plain app');
    expect(args.properties).toEqual({ size: '3', who: "O'Brien $HOME `x`" });
    expect(args.matrix).toEqual({});
  });

  it('names the matrix cell in the command of a cell’s build', async () => {
    const cell = gridSet.requests.find((r) => r.matrix?.node === '20');
    expect(cell?.buildid).toBeTruthy();
    await page.goto(`${master.url}/#/builds/${cell?.buildid}`);
    const code = page.locator('code#try-command');
    await code.waitFor({ timeout: 15_000 });
    const line = (await code.textContent()) ?? '';
    expect(line).toBe(`npx caliper try 'grid' --matrix 'node=20'`);
    expect(parseTryArgs(shellWords(line).slice(3)).matrix).toEqual({ node: '20' });
  });

  it('splits a matrix builder’s chart by an axis, one line per value with a legend, from the keyboard', async () => {
    expect((await api(master).get('/builders/grid')).body.builders[0].matrix).toEqual({ axes: ['node'] });
    expect((await api(master).get(`/builders/${encodeURIComponent('plain app')}`)).body.builders[0].matrix).toBeUndefined();
    await page.goto(`${master.url}/#/builders/grid`);
    const chart = page.locator('.metric-chart[data-series="grid_size"]');
    await chart.locator('canvas').waitFor({ timeout: 15_000 });
    const select = page.getByLabel('Split by (grid_size)');
    await select.focus();
    await page.keyboard.press('ArrowDown'); // from "none" to "node"
    await page.waitForSelector('.metric-chart[data-split-by="node"] canvas', { timeout: 15_000 });
    const split = page.locator('.metric-chart[data-split-by="node"]');
    const legend = (await split.locator('.u-legend').textContent()) ?? '';
    expect(legend).toContain('node=18');
    expect(legend).toContain('node=20');
    expect(await split.locator('.split-stat[data-value="18"]').textContent()).toContain('n=2');
    expect(await split.locator('.split-stat[data-value="20"]').textContent()).toContain('average 20');
    // Back to one line: the legend has the plain series again.
    await select.selectOption('');
    await page.waitForFunction(() => {
      const c = document.querySelector('.metric-chart[data-series="grid_size"]');
      return c && !c.hasAttribute('data-split-by') && c.querySelector('.u-legend')?.textContent?.includes('average');
    });
  });

  it('answers a change’s build requests and lists its builds on the changes page', async () => {
    const client = api(master);
    const posted = await client.post('/changes', {
      repository: REPO,
      branch: 'main',
      revision: 'd'.repeat(40),
      author: 'Ada <ada@example.org>',
      comments: 'Build me',
      files: ['a.ts'],
    });
    expect(posted.status).toBe(201);
    const changeid = posted.body.changeid as number;
    const requests = await waitFor('the change’s request', async () => {
      const res = await client.get(`/changes/${changeid}/buildrequests`);
      return res.body.buildrequestids?.length > 0 ? (res.body.buildrequestids as number[]) : null;
    });
    expect(requests).toHaveLength(1);
    const build = await waitFor('its build to finish', async () => {
      const b = (await client.get(`/builds?buildrequestid=${requests[0]}`)).body.builds[0];
      return b?.complete ? b : null;
    });
    expect((await client.get(`/builds/${build.buildid}/changes`)).body.changes.map((c: { changeid: number }) => c.changeid)).toEqual([
      changeid,
    ]);
    const missing = await client.get('/changes/999999/buildrequests');
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.body)).toContain('change 999999');
    expect((await client.get('/changes/abc/buildrequests')).status).toBe(400);

    await page.goto(`${master.url}/#/changes`);
    const link = page.locator(`tr.change-row[data-changeid="${changeid}"] li.change-build[data-buildid="${build.buildid}"] a`);
    await link.waitFor({ timeout: 15_000 });
    expect(await link.textContent()).toBe(`plain app #${build.number}`);
    expect(await page.locator(`tr.change-row[data-changeid="${changeid}"] .change-builds`).textContent()).toContain('success');
    await link.click();
    await page.waitForURL(new RegExp(`#/builds/${build.buildid}$`));
  });
});
