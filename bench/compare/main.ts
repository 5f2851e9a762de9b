/**
 * bench:compare: Buildbot 3.7 (Debian's packages) and Caliper side by side on the same workloads, on
 * loopback, SQLite, one worker/agent running one build at a time. Prints one table: figure, Buildbot,
 * Caliper, ratio (Caliper's advantage), medians of BENCH_RUNS runs.
 *
 *   npm run bench:compare              (full size, a few minutes)
 *   npm run bench:compare -- --smoke   (tiny sizes, one run: what CI runs)
 *
 * Progress goes to stderr, the table to stdout. Exits 1 when a build fails, a log read back differs
 * from what was printed, or the API answers an error; 2 for a bad knob. See bench/README.md.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../soak/processes.ts';
import { measureBuildsApi } from './api-load.ts';
import { ensureBuildbot, startBuildbot } from './buildbot-side.ts';
import { caliperBin } from './caliper-processes.ts';
import { startCaliper } from './caliper-side.ts';
import {
  MiB,
  buildOnce,
  forceToStartMs,
  logEndToEnd,
  perStepOverheadMs,
  quietMachine,
  median,
  throughputStepsPerSecond,
  topUpBuilds,
} from './measure.ts';
import { USAGE, compareOptions, type CompareOptions } from './options.ts';
import type { BenchSystem, SystemName } from './system.ts';
import { compareTable, emptyRunValues, formatNumber, runsDetail, type RunValues } from './table.ts';
import type { WorkloadSize } from './workload.ts';

const startedAt = performance.now();
const log = (line: string) => console.error(`compare [${((performance.now() - startedAt) / 1000).toFixed(1)} s]: ${line}`);

let options: CompareOptions;
try {
  options = compareOptions(process.argv.slice(2), process.env);
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  console.error(USAGE);
  process.exit(2);
}

const size: WorkloadSize = { steps: options.steps, logLines: Math.round((options.logMiB * MiB) / 100) };
// Inside the package: Caliper's generated config imports 'caliper'.
fs.mkdirSync(path.join(ROOT, 'tmp'), { recursive: true });
const dir = fs.mkdtempSync(path.join(ROOT, 'tmp', 'compare-'));
const systems: BenchSystem[] = [];
process.once('SIGINT', () => {
  for (const s of systems) s.killNow();
  process.exit(130);
});

async function versions(): Promise<string> {
  const out = await promisify(execFile)('buildbot', ['--version']).then(
    (r) => /Buildbot version: (\S+)/.exec(r.stdout)?.[1] ?? '?',
    () => 'not installed',
  );
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const load = os.loadavg()[0] ?? 0;
  return `Buildbot ${out}, Caliper ${pkg.version} (${path.relative(ROOT, caliperBin())}), node ${process.version}, ${os.cpus().length} CPUs, load average ${load.toFixed(1)}`;
}

/** The spawn floor measured before each per-step build, per system. */
const floors: Record<SystemName, number[]> = { Buildbot: [], Caliper: [] };

/** Before each figure: the machine quiet again (the other system, or the last figure, done with its work). */
async function settle(what: string): Promise<void> {
  // The smoke size proves the code runs (in CI, beside other tests): its figures mean nothing, so no wait.
  if (options.smoke) return;
  if ((await quietMachine()) < 0) log(`note: the machine was still busy after 10 s before ${what}; measuring anyway`);
}

/**
 * One run's build figures, figure by figure: each is measured on every system before the next figure,
 * so the two measures of a figure are seconds apart, not a minute (the machine's speed drifts), and
 * neither system has sat idle for the other's whole run (an idle master and agent start the next
 * figure colder). The first system alternates from run to run.
 */
async function measureRun(order: readonly BenchSystem[], values: RunValues): Promise<void> {
  const logs = new Map<SystemName, string[]>(order.map((s) => [s.name, []]));
  const note = (sys: BenchSystem, part: string) => logs.get(sys.name)?.push(part);
  for (const sys of order) {
    await settle(`${sys.name}'s per-step build`);
    const { overheadMs: perStep, floorMs } = await perStepOverheadMs(sys, size);
    values[sys.name].perStepMs.push(perStep);
    floors[sys.name].push(floorMs);
    note(sys, `per-step ${formatNumber(perStep)} ms (spawn floor ${formatNumber(floorMs)} ms)`);
  }
  for (const sys of order) {
    await settle(`${sys.name}'s throughput builds`);
    const throughput = await throughputStepsPerSecond(sys, size, options.queued);
    values[sys.name].stepsPerSecond.push(throughput);
    note(sys, `${formatNumber(throughput)} steps/s`);
  }
  for (const sys of order) {
    await settle(`${sys.name}'s log`);
    const logRun = await logEndToEnd(sys, size);
    const v = values[sys.name];
    v.logMiBs.push(logRun.mibPerSecond);
    v.logExact.push(logRun.exact ? 1 : 0);
    v.logRssGrowthMiB.push(logRun.rssGrowthMiB);
    note(sys, `log ${formatNumber(logRun.mibPerSecond)} MiB/s (${logRun.detail}; RSS +${formatNumber(logRun.rssGrowthMiB)} MiB)`);
    if (!logRun.exact) throw new Error(`${sys.name}: the log read back differs from what the step printed: ${logRun.detail}`);
  }
  for (const sys of order) {
    await settle(`${sys.name}'s force-to-start`);
    const start = await forceToStartMs(sys, options.forces);
    values[sys.name].forceToStartMs.push(start);
    note(sys, `force-to-start ${formatNumber(start)} ms`);
  }
  for (const sys of order) log(`${sys.name}: ${(logs.get(sys.name) ?? []).join(', ')}`);
}

let exitCode = 0;
try {
  log(await versions());
  log(`run directory ${dir}`);
  if (options.sides.includes('Buildbot')) await ensureBuildbot(log);
  log(`starting ${options.sides.join(' and ')}`);
  const started = await Promise.allSettled(
    options.sides.map((name) =>
      name === 'Buildbot' ? startBuildbot(path.join(dir, 'buildbot'), size) : startCaliper(path.join(dir, 'caliper'), size),
    ),
  );
  for (const s of started) if (s.status === 'fulfilled') systems.push(s.value);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  for (const s of systems) log(`${s.name} at ${s.url} (master pid ${s.masterPid})`);

  // Warm-up, not counted: the first build of a builder pays for caches, JIT and directories.
  for (const s of systems) for (const b of ['steps', 'start', 'throughput'] as const) await buildOnce(s, b);
  log('warm-up builds done');

  const values = emptyRunValues();
  for (let run = 1; run <= options.runs; run++) {
    log(`run ${run} of ${options.runs}`);
    // Buildbot first in odd runs, Caliper first in even ones: neither always measures right after the other.
    await measureRun(run % 2 === 1 ? systems : [...systems].reverse(), values);
    // The same number of builds stored on every side before the API is read.
    const stored = Math.max(options.apiMinBuilds, ...(await Promise.all(systems.map((s) => s.buildCount()))));
    for (const s of systems) await topUpBuilds(s, stored);
    for (const s of systems) {
      await settle(`${s.name}'s builds API`);
      const api = await measureBuildsApi(s.url, options.apiClients, options.apiSeconds, Math.min(50, stored));
      const v = values[s.name];
      v.apiOneReqPerSecond.push(api.oneClientReqPerSecond);
      v.apiManyReqPerSecond.push(api.manyClientsReqPerSecond);
      v.apiManyP99Ms.push(api.manyClientsP99Ms);
      log(
        `${s.name}: ${stored} builds stored; builds API ${formatNumber(api.oneClientReqPerSecond)} req/s (1 client), ` +
          `${formatNumber(api.manyClientsReqPerSecond)} req/s and p99 ${formatNumber(api.manyClientsP99Ms)} ms (${options.apiClients} clients)`,
      );
    }
  }
  const allFloors = [...floors.Buildbot, ...floors.Caliper];
  console.log(
    `\n${await versions()}; spawn floor ${formatNumber(median(allFloors))} ms (median); medians of ${options.runs} run(s)${options.smoke ? ' (smoke size)' : ''}\n`,
  );
  console.log(compareTable(options, values));
  console.log(`\nEvery run:\n${runsDetail(options, values)}`);
  console.log(
    `  spawn floor before the per-step build, ms: Buildbot ${floors.Buildbot.map(formatNumber).join(', ')}; Caliper ${floors.Caliper.map(formatNumber).join(', ')}`,
  );
} catch (e) {
  exitCode = 1;
  console.error(`compare: FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
} finally {
  await Promise.all(systems.map((s) => s.stop().catch((e: unknown) => log(`stopping ${s.name}: ${String(e)}`))));
  if (exitCode === 0 && !options.keep) fs.rmSync(dir, { recursive: true, force: true });
  else log(`kept ${dir} (masters' logs and databases)`);
}
process.exit(exitCode);
