/** Debian's Chromium driven by playwright-core (never a downloaded browser). */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from './harness.ts';

export const CHROMIUM = '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  if (fs.existsSync(CHROMIUM)) return true;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing: run the suite with \`npm test\` (it installs Debian's chromium)`);
  console.warn(`${CHROMIUM} missing: browser tests skipped (run \`npm test\`)`);
  return false;
}

/** Builds frontend/dist so the master serves the current UI. */
export function buildUi(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build-ui.mjs')], { stdio: 'pipe' });
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Closed network: no background traffic, no component updates (see the machine notes).
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
    env: { ...process.env, HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-chromium-')) },
  });
}
