/**
 * Names with spaces and hidden steps in the web UI (issue 12, item 3): a builder "my builder" forced
 * from its page, its step "run tests" shown, a step its config hides left out until "show hidden
 * steps" is ticked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { BuildFactory, ShellCommand, forceScheduler } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { startAgent, startTestMaster, type AgentProcess } from '../helpers/harness.ts';
import { buildUi, chromiumAvailable, launchChromium } from '../helpers/browser.ts';

describe.skipIf(!chromiumAvailable())('names with spaces and hidden steps in Chromium', () => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    buildUi();
    const db = testDatabases()[0];
    if (!db) throw new Error('no test database');
    master = await startTestMaster(
      {
        agents: [{ name: 'u1', token: 'ui-spaces-token' }],
        builders: [
          {
            name: 'my builder',
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'run tests', command: ['echo', 'tested'], descriptionDone: 'tests passed' }))
              .addStep(new ShellCommand({ name: 'tidy up', command: ['true'], hideStepIf: true })),
          },
        ],
        schedulers: [forceScheduler({ name: 'force', builderNames: ['my builder'] })],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'u1', 'ui-spaces-token');
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.kill();
    await master?.stop();
  });

  it('forces "my builder" from its page; a hidden step shows only when asked for', async () => {
    await page.goto(`${master.url}/#/builders`);
    await page.click('a.builder-link:has-text("my builder")');
    await page.waitForURL(/#\/builders\/my%20builder$/);
    await page.fill('form#force-form input[name=reason]', 'spaces');
    await page.click('form#force-form [type=submit]');
    await page.waitForURL(/#\/builds\/\d+/, { timeout: 30_000 });
    await page.waitForFunction(() => document.querySelector('#build-result')?.textContent?.trim() === 'success', undefined, {
      timeout: 30_000,
    });
    const shown = page.locator('li.step[data-step="run tests"]');
    const hidden = page.locator('li.step[data-step="tidy up"]');
    await expect.poll(() => shown.isVisible()).toBe(true);
    expect(await shown.textContent()).toContain('tests passed');
    await expect.poll(() => page.locator('#show-hidden-steps').isVisible()).toBe(true);
    expect(await hidden.isVisible()).toBe(false);
    await page.check('#show-hidden-steps');
    await expect.poll(() => hidden.isVisible()).toBe(true);
    expect(await page.locator('nav.crumbs a:has-text("my builder")').getAttribute('href')).toBe('#/builders/my%20builder');
  });
});
