/**
 * Per-step CPU time and peak memory (issue 15, item 2) on a real master and a real agent process:
 * a step whose shell starts one process holding 200 MiB and another burning 1 s of CPU time, and a
 * step that leaves a CPU burner behind in the background. The agent's figures (its `exit`'s
 * `resources`, stored by the master as `step_cpu_seconds` and `step_max_rss_bytes`) must be within
 * 20 % of the figures the processes report for themselves (getrusage), and of the nominal ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import type { MetricPoint, PointsPage } from '../../protocol/api-types.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, spawnAgent, startTestMaster, stepLog, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'step-resources-token';
const MiB = 1024 * 1024;
const sqlite = testDatabases().find((d) => d.kind === 'sqlite');

/** Each python process prints its own CPU seconds and peak RSS (bytes) as the kernel counts them. */
const SELF_REPORT = `r = resource.getrusage(resource.RUSAGE_SELF); print(TAG, r.ru_utime + r.ru_stime, r.ru_maxrss * 1024, flush=True)`;
/** Holds 200 MiB (written, so resident) for 2.5 s; frees it before reporting, so the freeing's system time is in. */
const ALLOC = `import resource, time\nTAG = 'alloc'\nb = b'x' * (200 << 20)\ntime.sleep(2.5)\ndel b\n${SELF_REPORT}`;
/** Burns 1 s of CPU time. */
const BURN = `import resource, time\nTAG = 'burn'\nt = time.process_time()\nwhile time.process_time() - t < 1.0: pass\n${SELF_REPORT}`;
/** Burns 1 s of CPU time, writes its own figures into the fifo `burnt`, then waits to be killed: left behind by its shell. */
const BURN_AND_STAY = `import resource, sys, time\nTAG = 'stay'\nt = time.process_time()\nwhile time.process_time() - t < 1.0: pass\nsys.stdout = open('burnt', 'w')\n${SELF_REPORT}\ntime.sleep(600)`;

/** `value` is within `fraction` of `expected`. */
function near(value: number, expected: number, fraction = 0.2): boolean {
  return Math.abs(value - expected) <= expected * fraction;
}

describe('per-step CPU time and peak memory', () => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    if (!sqlite) throw new Error('no SQLite test database');
    master = await startTestMaster(
      {
        agents: [{ name: 'r1', token: TOKEN, maxBuilds: 4 }],
        builders: [
          {
            name: 'heavy',
            factory: new BuildFactory().addStep(
              new ShellCommand({
                name: 'work',
                // Two children of the step's shell: the tree is what is measured, not the shell. bash's
                // `time` prints what the kernel counted for them (wait4), as `tree USER SYSTEM`.
                command: ['bash', '-c', `TIMEFORMAT='tree %3U %3S'; time { python3 -c "$ALLOC" & python3 -c "$BURN"; wait; }`],
                env: { ALLOC, BURN },
              }),
            ),
          },
          {
            name: 'leaves-one-behind',
            factory: new BuildFactory().addStep(
              new ShellCommand({
                name: 'background',
                // The shell ends once the burner has burnt, never waiting for it (nor burning CPU itself).
                command: 'rm -f burnt; mkfifo burnt; python3 -c "$BURN_AND_STAY" & read -r line < burnt; echo "$line"',
                env: { BURN_AND_STAY },
              }),
            ),
          },
          // Two builds at once on one agent, each burning its own CPU time.
          ...[0.8, 0.4].map((seconds, i) => ({
            name: `side-by-side-${i}`,
            factory: new BuildFactory().addStep(
              new ShellCommand({
                name: 'burn',
                command: ['bash', '-c', `TIMEFORMAT='tree %3U %3S'; time { python3 -c "$BURN"; }`],
                env: { BURN: BURN.replace('< 1.0', `< ${seconds}`) },
              }),
            ),
          })),
          { name: 'quick', factory: new BuildFactory().addStep(new ShellCommand({ name: 'true', command: ['true'] })) },
        ],
      },
      await sqlite.create(),
    );
    agent = spawnAgent(master, 'r1', TOKEN);
    await waitFor(`agent r1 (${agent.output()})`, () => internalsOf(master).registry.isConnected('r1'), 30_000);
  }, 60_000);

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  const points = async (series: string, builder: string): Promise<MetricPoint[]> => {
    const res = await api(master).get<PointsPage>(`/metrics/${series}/points?builder=${builder}`);
    return res.status === 200 ? res.body.points : [];
  };

  it('measures the whole process tree of a step: 200 MiB held, 1 s of CPU burnt, within 20 %', async () => {
    const { build, steps } = await forceAndWait(master, 'heavy', {}, 60_000);
    expect(build.result).toBe('success');
    const log = (await stepLog(master, steps[0].stepid)).toString();
    const time = /^tree ([\d.]+) ([\d.]+)$/m.exec(log);
    const tree = Number(time?.[1]) + Number(time?.[2]);
    // What the processes say of themselves (a little less: python's shutdown comes after it).
    const self = Object.fromEntries(
      [...log.matchAll(/^(alloc|burn) ([\d.]+) (\d+)$/gm)].map((m) => [m[1], { cpu: Number(m[2]), rss: Number(m[3]) }]),
    ) as Record<'alloc' | 'burn', { cpu: number; rss: number }>;
    expect(Object.keys(self).sort()).toEqual(['alloc', 'burn']);
    expect(self.burn.cpu).toBeGreaterThanOrEqual(1);

    const [cpu] = await waitFor('step_cpu_seconds of heavy', () => points('step_cpu_seconds', 'heavy').then((p) => p.length > 0 && p));
    const [rss] = await points('step_max_rss_bytes', 'heavy');
    expect(cpu?.tags).toMatchObject({ builder: 'heavy', step: 'work', agent: 'r1' });
    expect(rss?.tags).toMatchObject({ builder: 'heavy', step: 'work', agent: 'r1' });
    expect(cpu?.buildid).toBe(build.buildid);

    const cpuSelf = self.alloc.cpu + self.burn.cpu;
    const figures = `cpu ${cpu?.value} s (bash's time: ${tree} s, processes: ${cpuSelf} s), rss ${((rss?.value ?? 0) / MiB).toFixed(1)} MiB (processes: ${((self.alloc.rss + self.burn.rss) / MiB).toFixed(1)} MiB)`;
    // The kernel's count for the tree (bash's time) is the known figure; the processes' own counts
    // are a floor (python's shutdown comes after them: about 70 ms each on a loaded 2-core machine).
    expect(near(cpu?.value ?? 0, tree), figures).toBe(true);
    expect(cpu?.value ?? 0, figures).toBeGreaterThanOrEqual(cpuSelf * 0.95);
    expect(cpu?.value ?? 0, figures).toBeLessThanOrEqual(cpuSelf * 1.5);
    // Both processes are alive together for a second: the tree's peak is their sum (and the shell's).
    expect(near(rss?.value ?? 0, self.alloc.rss + self.burn.rss), figures).toBe(true);
    expect(near(rss?.value ?? 0, 200 * MiB), figures).toBe(true);
  }, 90_000);

  it('counts a background process the shell left behind (killed at the step end) by its last reading', async () => {
    const { build, steps } = await forceAndWait(master, 'leaves-one-behind', {}, 60_000);
    expect(build.result).toBe('success');
    const stay = /^stay ([\d.]+) \d+$/m.exec((await stepLog(master, steps[0].stepid)).toString());
    const cpuSelf = Number(stay?.[1]);
    expect(cpuSelf).toBeGreaterThanOrEqual(1);
    const [cpu] = await waitFor('step_cpu_seconds', () => points('step_cpu_seconds', 'leaves-one-behind').then((p) => p.length > 0 && p));
    // 1 s burnt (plus python's start-up), never reaped by the shell: the agent read it as it killed it.
    expect(near(cpu?.value ?? 0, cpuSelf), `cpu ${cpu?.value} s (the burner: ${cpuSelf} s)`).toBe(true);
    const [rss] = await points('step_max_rss_bytes', 'leaves-one-behind');
    expect(rss?.value).toBeGreaterThan(MiB);
  }, 90_000);

  it('keeps the figures of commands running side by side on one agent apart', async () => {
    const [a, b] = await Promise.all([0, 1].map((i) => forceAndWait(master, `side-by-side-${i}`, {}, 60_000)));
    for (const [i, run] of [a, b].entries()) {
      expect(run?.build.result).toBe('success');
      const time = /^tree ([\d.]+) ([\d.]+)$/m.exec((await stepLog(master, run?.steps[0].stepid)).toString());
      const tree = Number(time?.[1]) + Number(time?.[2]);
      const [cpu] = await waitFor('step_cpu_seconds', () => points('step_cpu_seconds', `side-by-side-${i}`).then((p) => p.length > 0 && p));
      expect(near(cpu?.value ?? 0, tree), `side-by-side-${i}: cpu ${cpu?.value} s, bash's time ${tree} s`).toBe(true);
    }
  }, 90_000);

  it('a command shorter than the first sample has a CPU figure and no memory figure', async () => {
    const { build } = await forceAndWait(master, 'quick');
    expect(build.result).toBe('success');
    const [cpu] = await waitFor('step_cpu_seconds', () => points('step_cpu_seconds', 'quick').then((p) => p.length > 0 && p));
    expect(cpu?.value).toBeLessThan(0.1);
    expect(await points('step_max_rss_bytes', 'quick')).toEqual([]);
  });
});
