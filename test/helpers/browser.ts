/** Debian's Chromium driven by playwright-core (never a downloaded browser). */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
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

/** A violation axe-core found, as tests print it: the rule, its impact and where. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

const AXE_SOURCE = path.join(ROOT, 'node_modules/axe-core/axe.min.js');

/**
 * Runs axe-core inside the page (from node_modules, never fetched) and returns its serious and critical
 * violations: the bar issue 16 sets for every page, in both colour schemes.
 */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through DevTools rather than added as a <script>: the master's CSP (script-src 'self') would refuse that.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(fs.readFileSync(AXE_SOURCE, 'utf8'));
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document): Promise<{ violations: AxeResult[] }> } }).axe;
    interface AxeResult {
      id: string;
      impact: string | null;
      help: string;
      nodes: { target: unknown[] }[];
    }
    const { violations } = await axe.run(document);
    return violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.map(String).join(' ')) }));
  });
}

/** How much wider than the window the page is (0 or less: no sideways scrolling). */
export function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/**
 * With UPDATE_SCREENSHOTS set, the page as docs/screenshots/NAME.png (whole page, after half a second
 * for charts and live data to settle); otherwise nothing.
 */
export async function docScreenshot(page: Page, name: string): Promise<void> {
  if (!process.env.UPDATE_SCREENSHOTS) return;
  fs.mkdirSync(path.join(ROOT, 'docs/screenshots'), { recursive: true });
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(ROOT, `docs/screenshots/${name}.png`), fullPage: true });
}
