/**
 * bench/ui.ts at smoke size (500 builds, 10 000 points, 1 navigation a page), so it cannot rot:
 * real builds, the seed copied into the SQLite file, the overview, a builder page and the metrics
 * explorer each loaded in Chromium until their data shows. It must exit 0 and print a figure in
 * milliseconds for every page and the JavaScript's size; the timings themselves are not judged here
 * (a shared test machine is no place for them).
 */
import { describe, expect, it } from 'vitest';
import { runBenchSmoke } from '../helpers/run-bench.ts';
import { chromiumAvailable } from '../helpers/browser.ts';

describe.skipIf(!chromiumAvailable())('bench:ui at smoke size', () => {
  it('seeds the store and prints a figure for every page', async () => {
    const { code, stdout, stderr } = await runBenchSmoke('bench/ui.ts');
    const report = `stdout:\n${stdout}\nstderr:\n${stderr}`;
    expect(code, report).toBe(0);
    expect(stdout, report).toContain('ui: 500 builds and 10000 points stored');
    for (const page of ['overview (#/)', 'builder page: builds table', 'builder page: first chart drawn', 'metrics explorer'])
      expect(stdout, report).toMatch(
        new RegExp(`ui: ${page.replace(/[()#/]/g, '\\$&')}.*: data shown \\d+ ms after navigation \\(target <= 300 ms: (met|NOT met)`),
      );
    expect(stdout, report).toMatch(/ui: JavaScript \(\d+ files\) [\d.]+ KB, [\d.]+ KB gzipped \(target <= 80 KB: met\)/);
  }, 240_000);
});
