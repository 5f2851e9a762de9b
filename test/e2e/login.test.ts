/**
 * Logging in through the web UI in Debian's Chromium: the login page, the user's name in the
 * header, Force offered only where the user's roles allow, and logging out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { hashPassword } from '../../master/auth/password-hash.ts';
import { testDatabases } from '../helpers/databases.ts';
import { startTestMaster } from '../helpers/harness.ts';
import { buildUi, chromiumAvailable, launchChromium } from '../helpers/browser.ts';

describe.runIf(chromiumAvailable())('login in the browser', () => {
  let master: RunningMaster;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    buildUi();
    const db = testDatabases()[0];
    if (!db) throw new Error('no test database');
    const step = () => new BuildFactory().addStep(new ShellCommand({ name: 's', command: ['true'] }));
    master = await startTestMaster(
      {
        title: 'Caliper login e2e',
        builders: [
          { name: 'a', factory: step() },
          { name: 'deploy', factory: step() },
        ],
        web: {
          auth: {
            sessionSecret: 'a-session-secret-of-at-least-32-characters',
            users: [{ username: 'dev', passwordHash: await hashPassword('dev-pass'), roles: ['developers'] }],
            allowRules: [
              { action: 'force', builder: 'deploy', roles: ['admins'] },
              { action: 'force', roles: ['developers'] },
            ],
          },
        },
      },
      await db.create(),
      'login-e2e',
    );
    browser = await launchChromium();
    page = await browser.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await master?.stop();
  });

  it('logs in, shows the name and what the user may do, logs out', async () => {
    await page.goto(`${master.url}/#/builders/a`);
    await page.locator('#login-link').waitFor();
    expect(await page.locator('#force-form button[type=submit]').isDisabled()).toBe(true);

    await page.click('#login-link');
    await page.getByLabel('Username').fill('dev');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();

    await page.getByLabel('Password').fill('dev-pass');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#user-name', { hasText: 'dev' }).waitFor();

    await page.goto(`${master.url}/#/builders/a`);
    await page.locator('#force-form').waitFor();
    expect(await page.locator('#force-form button[type=submit]').isEnabled()).toBe(true);
    await page.goto(`${master.url}/#/builders/deploy`);
    await page.locator('#force-form').waitFor();
    expect(await page.locator('#force-form button[type=submit]').isDisabled()).toBe(true);

    await page.getByRole('button', { name: 'Log out' }).click();
    await page.locator('#login-link').waitFor();
    const cookies = await page.context().cookies();
    expect(cookies.filter((c) => c.name === 'caliper_session')).toEqual([]);
  });
});
