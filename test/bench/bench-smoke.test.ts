/**
 * The side-by-side benchmarks at smoke size, so they cannot rot: `bench/compare/main.ts --smoke`
 * (Buildbot 3.7 from Debian and Caliper, each a real master with a real worker/agent; installs
 * Buildbot if missing, as scripts/test.sh does beforehand) and `bench/agents/main.ts --smoke` (a real
 * master against 20 WebSocket agents of the load generator). Each must exit 0 and print its whole
 * table, every cell of every figure a number, for both systems.
 */
import { describe, expect, it } from 'vitest';
import { runBenchSmoke } from '../helpers/run-bench.ts';
import { figureDefs, FIGURE_KEYS } from '../../bench/compare/table.ts';
import { compareOptions } from '../../bench/compare/options.ts';

// Caliper from the sources, as in the other tests (the npm scripts measure the built package).
const runBench = (script: string) => runBenchSmoke(script, { BENCH_CALIPER_BIN: 'bin/caliper-dev.js' });

/** The Markdown table's body rows, as cells. */
function tableRows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| figure |'))
    .map((l) =>
      l
        .slice(2, -2)
        .split(' | ')
        .map((c) => c.trim()),
    );
}

const NUMBER = /^-?\d+(\.\d+)?$/;

describe('benchmarks at smoke size', () => {
  it('bench:compare prints every figure for Buildbot and for Caliper, with a ratio', async () => {
    const { code, stdout, stderr } = await runBench('bench/compare/main.ts');
    const report = `stdout:\n${stdout}\nstderr:\n${stderr}`;
    expect(code, report).toBe(0);
    const defs = figureDefs(compareOptions(['--smoke'], {}));
    const rows = new Map(tableRows(stdout).map(([label, ...cells]) => [label, cells]));
    for (const key of FIGURE_KEYS) {
      const def = defs[key];
      const cells = rows.get(def.label);
      expect(cells, `row "${def.label}" in\n${report}`).toBeDefined();
      const [buildbot, caliper, ratio] = cells ?? [];
      if (def.better === 'check') {
        expect([buildbot, caliper], def.label).toEqual(['yes', 'yes']);
        continue;
      }
      expect(buildbot, `${def.label}: Buildbot`).toMatch(NUMBER);
      expect(caliper, `${def.label}: Caliper`).toMatch(NUMBER);
      // A ratio needs both figures above zero: a log that grew no RSS on one side has none.
      if (key !== 'logRssGrowthMiB') expect(ratio, `${def.label}: ratio`).toMatch(/^\d+(\.\d+)?×$/);
    }
  }, 180_000);

  it('bench:agents prints every figure for its fleet of real WebSocket agents', async () => {
    const { code, stdout, stderr } = await runBench('bench/agents/main.ts');
    const report = `stdout:\n${stdout}\nstderr:\n${stderr}`;
    expect(code, report).toBe(0);
    expect(stdout, report).toContain('| figure | N = 20 |');
    const rows = tableRows(stdout);
    expect(rows.length, report).toBeGreaterThanOrEqual(15);
    for (const [label, ...cells] of rows) {
      expect(cells, `${label} in\n${report}`).toHaveLength(1);
      if (label === 'agents connected') expect(cells, report).toEqual(['20/20']);
      else expect(cells[0], `${label} in\n${report}`).toMatch(NUMBER);
    }
  }, 120_000);
});
