/**
 * bench/retention-size.ts at smoke size (100 builds), so it cannot rot: one real sample build on a
 * real master and agent, its copies written through the repositories, the janitor run. It must exit 0,
 * print its table with a number in every cell, and the compressed database must be the smaller one.
 */
import { describe, expect, it } from 'vitest';
import { runBenchSmoke } from '../helpers/run-bench.ts';

const NUMBER = /^\d+(\.\d+)?$/;

describe('bench:retention at smoke size', () => {
  it('prints sizes and rows for 100 builds, the compressed chunks the smaller', async () => {
    const { code, stdout, stderr } = await runBenchSmoke('bench/retention-size.ts');
    const report = `stdout:\n${stdout}\nstderr:\n${stderr}`;
    expect(code, report).toBe(0);
    expect(stdout, report).toContain('| 100 builds over 90 days | compressed (br) | raw |');
    const rows = new Map(
      stdout
        .split('\n')
        .filter((l) => l.startsWith('| ') && !l.startsWith('| 100 builds'))
        .map((l) =>
          l
            .slice(2, -2)
            .split(' | ')
            .map((c) => c.trim()),
        )
        .map(([label, ...cells]) => [label as string, cells]),
    );
    for (const [label, cells] of rows) {
      expect(cells, `${label} in\n${report}`).toHaveLength(2);
      for (const cell of cells) expect(cell, `${label} in\n${report}`).toMatch(NUMBER);
    }
    // Every build's rows are there, in both files.
    for (const [table, n] of [
      ['builds', 100],
      ['steps', 800],
    ] as const)
      expect(rows.get(`rows: ${table}`), report).toEqual([String(n), String(n)]);
    expect(Number(rows.get('rows: metric_points')?.[0]), report).toBeGreaterThan(0);
    const [brFile, rawFile] = (rows.get('file size after VACUUM (bytes)') ?? []).map(Number);
    const [brChunks, rawChunks] = (rows.get('log chunks as stored (bytes)') ?? []).map(Number);
    expect(brChunks, report).toBeLessThan(rawChunks as number);
    // At this size the logs are a few hundred bytes a build and the chunks' saving a few KiB, which
    // page allocation can swallow (both files came out at 1265664 bytes once): never larger, then.
    expect(brFile, report).toBeLessThanOrEqual(rawFile as number);
    // The janitor took the chunks of the builds older than 30 days, not the rows.
    expect(stdout, report).toMatch(/compressed \(br\): janitor removed: the chunks of [1-9]\d* logs/);
  }, 120_000);
});
