/**
 * Every page of the web UI, in Debian's Chromium, in the light and the dark colour scheme: axe-core
 * finds no serious or critical violation, nothing overflows a 380 px window sideways, and the
 * keyboard reaches the links with a visible focus ring.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { BuildFactory, Git, MeasureShellCommand, ShellCommand, interpolate } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import { silentLogger } from '../../core/logger.ts';
import type { BisectionDetail } from '../../protocol/api-types.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { bisectRepo, measureCommand } from '../helpers/bisect-repo.ts';
import {
  type AxeViolation,
  buildUi,
  chromiumAvailable,
  horizontalOverflow,
  launchChromium,
  seriousA11yViolations,
} from '../helpers/browser.ts';

const SCHEMES = ['light', 'dark'] as const;

describe.skipIf(!chromiumAvailable())('accessibility of every page', () => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let browser: Browser;
  let pages: [name: string, hash: string][];
  let dir: string;

  beforeAll(async () => {
    buildUi();
    const db = testDatabases()[0];
    if (!db) throw new Error('no test database');
    // The bisection page's repository (4 commits, commit 2 slower); the master keeps its mirror under `dir`.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-a11y-'));
    const shas = bisectRepo(path.join(dir, 'repo'), 4, 2);
    master = await startMaster(
      compileConfig({
        title: 'Caliper a11y',
        agents: [
          { name: 'a1', token: 'a11y-token-1234', labels: ['linux'] },
          { name: 'gone', token: 'gone-token-1234' },
        ],
        builders: [
          {
            name: 'app',
            description: 'builds the app',
            tags: ['web'],
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'compile', command: ['echo', 'compiled'] }))
              .addStep(new MeasureShellCommand({ name: 'size', command: ['echo', '120'], unit: 'bytes' })),
          },
          { name: 'broken', factory: new BuildFactory().addStep(new ShellCommand({ name: 'fail', command: ['false'] })) },
          {
            // A matrix builder: its charts have the "split by" select, its cells' pages a --matrix try line.
            name: 'grid',
            matrix: { node: ['18', '20'] },
            factory: new BuildFactory().addStep(new MeasureShellCommand({ name: 'size', command: ['echo', '7'], unit: 'bytes' })),
          },
          {
            name: 'bisected',
            agents: ['a1'],
            bisect: { maxBuilds: 5, maxPerDay: 100 },
            factory: new BuildFactory()
              .addStep(new Git({ repourl: path.join(dir, 'repo'), branch: 'main' }))
              .addStep(new MeasureShellCommand({ name: 'measure', metric: 'runtime', command: interpolate(measureCommand(0)) })),
          },
        ],
      }),
      { port: 0, host: '127.0.0.1', dbUrl: await db.create(), log: silentLogger, basedir: dir, name: 'a11y-e2e', shutdownTimeoutMs: 3000 },
    );
    agent = await startAgent(master, 'a1', 'a11y-token-1234');
    await api(master).post('/changes', {
      repository: 'https://example.org/app.git',
      branch: 'main',
      revision: 'abcdef0123456789abcdef0123456789abcdef01',
      author: 'Ada <ada@example.org>',
      comments: 'Make it faster',
      files: ['a.ts'],
    });
    await forceAndWait(master, 'app');
    const second = await forceAndWait(master, 'app');
    await forceAndWait(master, 'broken');
    const cell = await forceAndWait(master, 'grid');
    // The metrics explorer's page: a posted series with a step, so its chart carries a change mark and flagged points.
    const now = Math.floor(Date.now() / 1000);
    const posted = await api(master).post('/metrics/explore_ms/points', {
      kind: 'duration',
      unit: 'ms',
      points: Array.from({ length: 30 }, (_, i) => ({
        time: now - (30 - i) * 60,
        value: (i < 15 ? 100 : 130) + (i % 3),
        tags: { builder: 'app', os: 'linux' },
      })),
    });
    if (posted.status !== 201) throw new Error(`posting points: ${JSON.stringify(posted.body)}`);
    // The bisection page: its ends built, then bisected to the culprit.
    for (const revision of [shas[0], shas[3]]) await forceAndWait(master, 'bisected', { properties: { revision } });
    const started = await api(master).post('/bisections', { builder: 'bisected', series: 'runtime', good: shas[0], bad: shas[3] });
    if (started.status !== 201) throw new Error(`starting a bisection: ${JSON.stringify(started.body)}`);
    const bisectionid = started.body.bisectionid as number;
    const ended = await waitFor(
      'the bisection to end',
      async () => {
        const { body } = await api(master).get<BisectionDetail>(`/bisections/${bisectionid}`);
        return body.bisection.state === 'running' ? null : body;
      },
      60_000,
    );
    // Checked with its culprit and every step shown, not an error.
    if (ended.bisection.state !== 'found') throw new Error(`bisection ${bisectionid}: ${String(ended.bisection.reason)}`);
    pages = [
      ['overview', '#/'],
      ['builders', '#/builders'],
      ['builder', '#/builders/app'],
      ['build', `#/builds/${second.build.buildid}`],
      ['matrix builder', '#/builders/grid'],
      ['matrix cell', `#/builds/${cell.build.buildid}`],
      ['compare', `#/compare/${second.build.buildid}/previous`],
      ['changes', '#/changes'],
      ['console', '#/console'],
      ['grid', '#/grid'],
      ['waterfall', '#/waterfall'],
      ['agents', '#/agents'],
      ['agent', '#/agents/a1'],
      ['metrics explorer', '#/metrics?series=explore_ms&series=size&split=os'],
      ['bisection', `#/bisections/${bisectionid}`],
      ['login', '#/login'],
      ['not found', '#/nowhere'],
    ];
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.kill();
    await master?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const colorScheme of SCHEMES) {
    it(`has no serious or critical axe violation on any page (${colorScheme})`, async () => {
      const context: BrowserContext = await browser.newContext({ colorScheme, viewport: { width: 1280, height: 900 } });
      try {
        const page = await context.newPage();
        const found: Record<string, AxeViolation[]> = {};
        for (const [name, hash] of pages) {
          await page.goto(`${master.url}/${hash}`);
          await page.waitForLoadState('networkidle');
          await page.waitForTimeout(300);
          if (name === 'build') {
            await page.locator('li.step .step-head').first().click();
            await page.waitForTimeout(500);
          }
          const violations = await seriousA11yViolations(page);
          if (violations.length > 0) found[name] = violations;
        }
        expect(found, colorScheme).toEqual({});
        // The theme really follows the scheme: the page background differs between the two.
        const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        expect(bg).toBe(colorScheme === 'dark' ? 'rgb(13, 17, 23)' : 'rgb(246, 247, 249)');
      } finally {
        await context.close();
      }
    }, 60_000);
  }

  it('fits 380 px on every page', async () => {
    const context = await browser.newContext({ viewport: { width: 380, height: 800 } });
    try {
      const page = await context.newPage();
      for (const [name, hash] of pages) {
        await page.goto(`${master.url}/${hash}`);
        await page.waitForLoadState('networkidle');
        await page.waitForTimeout(300);
        expect(await horizontalOverflow(page), name).toBeLessThanOrEqual(0);
      }
    } finally {
      await context.close();
    }
  }, 60_000);

  it('reaches the navigation with the keyboard and shows where the focus is', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(`${master.url}/#/builders`);
      await page.locator('tr[data-builder="app"]').waitFor();
      await page.keyboard.press('Tab'); // the skip link comes first
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => {
        const el = document.activeElement as HTMLElement;
        const style = getComputedStyle(el);
        return { text: el.textContent, outline: style.outlineStyle, width: parseFloat(style.outlineWidth) };
      });
      expect(focused.text).toBe('Caliper a11y');
      expect(focused.outline).not.toBe('none');
      expect(focused.width).toBeGreaterThanOrEqual(2);
    } finally {
      await context.close();
    }
  }, 30_000);
});
