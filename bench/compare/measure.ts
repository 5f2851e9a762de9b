/**
 * The figures, each measured the same way on any BenchSystem. Times that polling would blur are taken
 * from mark steps (`date +%s%N` on the worker/agent, see workload.ts); the two end-to-end times
 * (throughput, log) are seen by the client, whose polling interval grows with the wait (elapsed / 50,
 * 10–500 ms) so that it adds at most ~2 % and does not load the master it waits for.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import { rssKib } from '../soak/processes.ts';
import type { BenchSystem, FinishedBuild } from './system.ts';
import { MARK_FIRST, MARK_LAST, expectedLog, parseMark, wallClockMs, type BuilderName, type WorkloadSize } from './workload.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const MiB = 1024 * 1024;

export const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** The operating system's floor: ms per fork+exec of /bin/true from a small process (sh), median of 3 loops of 100. */
export async function spawnFloorMs(): Promise<number> {
  const n = 100;
  const loops: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await run('sh', ['-c', `i=0; while [ $i -lt ${n} ]; do /bin/true; i=$((i+1)); done`]);
    loops.push((performance.now() - t0) / n);
  }
  return median(loops);
}

/** The machine's busy and total CPU time so far, in clock ticks (/proc/stat's first line); null off Linux. */
function cpuTicks(): { busy: number; total: number } | null {
  try {
    const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/) ?? [];
    const n = fields.map(Number);
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * Waits until the whole machine has been quiet for a moment (under a fifth of one core busy over
 * 300 ms), at most `maxMs`: what one system did last (Buildbot's master still writing its log,
 * say) must not run beside the other's measurement. Returns the ms waited, or -1 if it never settled.
 */
export async function quietMachine(maxMs = 10_000): Promise<number> {
  const cores = os.cpus().length;
  const t0 = performance.now();
  while (performance.now() - t0 < maxMs) {
    const a = cpuTicks();
    await sleep(300);
    const b = cpuTicks();
    if (!a || !b) return 0;
    const busyCores = ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * cores;
    if (busyCores < 0.2) return performance.now() - t0;
  }
  return -1;
}

/** Waits until the request completes; throws after `timeoutMs`. The time it saw completion, in performance.now() ms. */
export async function waitForRequest(sys: BenchSystem, brid: number, timeoutMs = 600_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await sys.requestComplete(brid)) return performance.now();
    const elapsed = performance.now() - t0;
    if (elapsed > timeoutMs) throw new Error(`${sys.name}: build request ${brid} not complete after ${timeoutMs / 1000} s`);
    await sleep(Math.min(500, Math.max(10, elapsed / 50)));
  }
}

async function successfulBuild(sys: BenchSystem, brid: number, builder: BuilderName): Promise<FinishedBuild> {
  const build = await sys.buildOf(brid);
  if (build.results !== 0)
    throw new Error(`${sys.name}: build ${build.buildid} of ${builder} ended with result ${build.results}, not SUCCESS (0)`);
  return build;
}

/** Forces one build and waits for it; the successful build. */
export async function buildOnce(sys: BenchSystem, builder: BuilderName): Promise<FinishedBuild> {
  const brid = await sys.force(builder);
  await waitForRequest(sys, brid);
  return successfulBuild(sys, brid, builder);
}

/**
 * Per-step overhead: one build of `steps` (mark, N × true, mark). The two marks are N + 1 step cycles
 * apart; each cycle is one command's spawn plus what the system adds around it, so
 * overhead = (last − first) / (N + 1) − the spawn floor. The floor is measured just before the build,
 * so that both see the same load on a shared machine.
 */
export async function perStepOverheadMs(sys: BenchSystem, size: WorkloadSize): Promise<{ overheadMs: number; floorMs: number }> {
  const floorMs = await spawnFloorMs();
  const build = await buildOnce(sys, 'steps');
  const first = parseMark(await sys.stepStdout(build.buildid, MARK_FIRST), `${sys.name} build ${build.buildid} ${MARK_FIRST}`);
  const last = parseMark(await sys.stepStdout(build.buildid, MARK_LAST), `${sys.name} build ${build.buildid} ${MARK_LAST}`);
  return { overheadMs: (last - first) / (size.steps + 1) - floorMs, floorMs };
}

/** Throughput: `queued` builds of `throughput` (N × true) forced back to back; steps run per second until the last completes. */
export async function throughputStepsPerSecond(sys: BenchSystem, size: WorkloadSize, queued: number): Promise<number> {
  const t0 = performance.now();
  const brids: number[] = [];
  for (let i = 0; i < queued; i++) brids.push(await sys.force('throughput'));
  // One worker/agent, one build at a time, oldest request first: the last request ends last.
  const last = brids[brids.length - 1] as number;
  const end = await waitForRequest(sys, last);
  for (const brid of brids) {
    if (!(await sys.requestComplete(brid))) throw new Error(`${sys.name}: build request ${brid} still open after the last one completed`);
    await successfulBuild(sys, brid, 'throughput');
  }
  return (queued * size.steps) / ((end - t0) / 1000);
}

export interface LogFigures {
  mibPerSecond: number;
  exact: boolean;
  detail: string;
  /** Growth of the master's RSS during the log build (max sampled − before), MiB. */
  rssGrowthMiB: number;
}

/** The log: one build printing exactly `logLines` × 100 bytes; force to completion, then read back and compared. */
export async function logEndToEnd(sys: BenchSystem, size: WorkloadSize): Promise<LogFigures> {
  const before = rssKib(sys.masterPid) ?? 0;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssKib(sys.masterPid) ?? 0);
  }, 50);
  const t0 = performance.now();
  let end: number;
  let brid: number;
  try {
    brid = await sys.force('log');
    end = await waitForRequest(sys, brid);
  } finally {
    clearInterval(sampler);
  }
  const build = await successfulBuild(sys, brid, 'log');
  const expected = expectedLog(size);
  const got = await sys.stdoutDigest(build.buildid, 'print');
  const exact = got.bytes === expected.bytes && got.sha256 === expected.sha256;
  return {
    mibPerSecond: expected.bytes / MiB / ((end - t0) / 1000),
    exact,
    detail: exact
      ? `${got.bytes} bytes, sha256 ok`
      : `${got.bytes} bytes (expected ${expected.bytes}), sha256 ${got.sha256} (expected ${expected.sha256})`,
    rssGrowthMiB: (peak - before) / 1024,
  };
}

/** Force-to-start: the wall clock from just before the force request to the first command's mark, median of `forces`. */
export async function forceToStartMs(sys: BenchSystem, forces: number): Promise<number> {
  const latencies: number[] = [];
  for (let i = 0; i < forces; i++) {
    const t0 = wallClockMs();
    const brid = await sys.force('start');
    await waitForRequest(sys, brid);
    const build = await successfulBuild(sys, brid, 'start');
    latencies.push(parseMark(await sys.stepStdout(build.buildid, MARK_FIRST), `${sys.name} build ${build.buildid}`) - t0);
  }
  return median(latencies);
}

/** Forces trivial builds until the system has `target` builds stored (the API figures compare equal stores). */
export async function topUpBuilds(sys: BenchSystem, target: number): Promise<void> {
  const missing = target - (await sys.buildCount());
  if (missing <= 0) return;
  const brids: number[] = [];
  for (let i = 0; i < missing; i++) brids.push(await sys.force('start'));
  for (const brid of brids) await waitForRequest(sys, brid);
  const now = await sys.buildCount();
  if (now !== target) throw new Error(`${sys.name}: ${now} builds stored after topping up, expected ${target}`);
}
