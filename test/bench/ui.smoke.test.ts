/**
 * bench/ui.ts at smoke size (500 builds, 10 000 points, 3 navigations a page), so it cannot rot:
 * real builds, the seed copied into the SQLite file, the overview, a builder page and the metrics
 * explorer each loaded in Chromium until their data shows. It must exit 0 and print a figure in
 * milliseconds for every page and the JavaScript's size; the timings themselves are not judged here
 * (a shared test machine is no place for them).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chromiumAvailable } from '../helpers/browser.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function runBench(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/ui.ts'), '--smoke'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      // The bench's own knobs must not leak in from a developer's shell.
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BENCH_'))),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!chromiumAvailable())('bench:ui at smoke size', () => {
  it('seeds the store and prints a figure for every page', async () => {
    const { code, stdout, stderr } = await runBench();
    const report = `stdout:\n${stdout}\nstderr:\n${stderr}`;
    expect(code, report).toBe(0);
    expect(stdout, report).toContain('ui: 500 builds and 10000 points stored');
    for (const page of ['overview (#/)', 'builder page: builds table', 'builder page: first chart drawn', 'metrics explorer'])
      expect(stdout, report).toMatch(
        new RegExp(`ui: ${page.replace(/[()#/]/g, '\\$&')}.*: data shown \\d+ ms after navigation \\(target <= 300 ms: (met|NOT met)`),
      );
    expect(stdout, report).toMatch(/ui: JavaScript [\d.]+ KB, [\d.]+ KB gzipped \(target <= 80 KB: met\)/);
  }, 240_000);
});
