/**
 * Caliper benchmark: per-step dispatch overhead and log throughput, on the embedded SQLite default.
 *
 *   npm run bench          (or: npx tsx bench/dispatch.ts)
 *
 * One run starts a real master in this process and a real agent as a child process
 * (`node bin/caliper.js agent ...`, over WebSocket), then:
 *   1. dispatch: a builder of 20 ShellCommand steps running `true`; one warm-up build, then N measured
 *      builds. Per-step time (from the build's and the steps' stored times) is compared with spawning
 *      `true` directly from this process. Target: < 5 ms overhead per step.
 *   2. logs: one step printing exactly 50 MiB; throughput through Caliper vs reading the same command's
 *      stdout directly in node; the raw log (GET /api/v2/logs/ID/raw) must be byte-identical.
 * Exits 1 if the raw log does not match (or a build does not succeed), 0 otherwise.
 * Environment knobs: BENCH_BUILDS (default 5), BENCH_STEPS (default 20), BENCH_LOG_MB (default 50).
 * See bench/README.md for what the figures mean.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildFactory, Results, ShellCommand, compileConfig, startMaster, type RunningMaster } from 'caliper';
import { silentLogger } from '../core/logger.ts';
import { internalsOf } from '../master/testing.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STEPS = Number(process.env.BENCH_STEPS ?? 20);
const BUILDS = Number(process.env.BENCH_BUILDS ?? 5);
const DIRECT_SPAWNS = 100;
const TARGET_OVERHEAD_MS = 5;
const MiB = 1024 * 1024;

// The log command: LOG_LINES lines of 99 'x' and a newline, i.e. exactly LOG_LINES * 100 bytes.
const LOG_LINE = `${'x'.repeat(99)}\n`;
const LOG_LINES = Math.round((Number(process.env.BENCH_LOG_MB ?? 50) * MiB) / LOG_LINE.length);
const LOG_BYTES = LOG_LINES * LOG_LINE.length;
const LOG_COMMAND = ['sh', '-c', `yes ${'x'.repeat(99)} | head -n ${LOG_LINES}`];

const TOKEN = 'bench-agent-token-0123456789';
const POLL_MS = 20;

type Json = Record<string, unknown>;
interface BuildInfo {
  buildid: number;
  started_at: number;
  complete_at: number;
  results: number | null;
  result: string | null;
  state_string: string;
}
interface StepInfo {
  stepid: number;
  name: string;
  started_at: number;
  complete_at: number;
  results: number | null;
  result: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 2) => n.toFixed(digits);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const maxRssMb = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
/** Another process's current and peak RSS in MiB, from /proc (Linux only; null elsewhere). */
function procRssMb(pid: number | undefined): { rss: number; peak: number } | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

class Http {
  constructor(private readonly base: string) {}
  async json(method: 'GET' | 'POST', p: string, body?: unknown): Promise<Json> {
    const res = await fetch(`${this.base}/api/v2${p}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as Json;
  }
  get(p: string): Promise<Json> {
    return this.json('GET', p);
  }
}

/** Forces a build, waits for its request to complete, returns the build, its steps and the client-side time. */
async function runBuild(http: Http, builder: string): Promise<{ build: BuildInfo; steps: StepInfo[]; clientMs: number }> {
  const t0 = performance.now();
  const { buildrequestid } = (await http.json('POST', `/builders/${builder}/force`, { reason: 'bench' })) as { buildrequestid: number };
  for (;;) {
    const br = ((await http.get(`/buildrequests/${buildrequestid}`)).buildrequests as Json[])[0] as Json;
    if (br.complete) break;
    await sleep(POLL_MS);
  }
  const clientMs = performance.now() - t0;
  const builds = (await http.get(`/builds?buildrequestid=${buildrequestid}`)).builds as unknown as BuildInfo[];
  const build = builds[builds.length - 1];
  if (!build) throw new Error(`no build for build request ${buildrequestid}`);
  const steps = (await http.get(`/builds/${build.buildid}/steps`)).steps as unknown as StepInfo[];
  if (build.results !== Results.SUCCESS || steps.some((s) => s.results !== Results.SUCCESS)) {
    throw new Error(
      `build ${build.buildid} of ${builder} ended ${build.result}: ${build.state_string}; steps: ${steps.map((s) => `${s.name}=${s.result}`).join(' ')}`,
    );
  }
  return { build, steps, clientMs };
}

function spawnAndWait(argv: string[], onStdout?: (b: Buffer) => void): Promise<number | null> {
  return new Promise((resolve, reject) => {
    // Same stdio as the agent's CommandRunner: no stdin, stdout and stderr piped.
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('error', reject);
    child.stdout.on('data', onStdout ?? (() => {}));
    child.stderr.resume();
    child.on('close', (code) => resolve(code));
  });
}

/** The direct-spawn baseline: `true` spawned sequentially, ms per spawn. */
async function directSpawnMs(n: number): Promise<number> {
  await spawnAndWait(['true']); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await spawnAndWait(['true']);
  return (performance.now() - t0) / n;
}

function expectedLogSha256(): string {
  const h = createHash('sha256');
  const block = Buffer.from(LOG_LINE.repeat(10_000));
  let lines = LOG_LINES;
  for (; lines >= 10_000; lines -= 10_000) h.update(block);
  h.update(LOG_LINE.repeat(lines));
  return h.digest('hex');
}

async function startAgent(port: number, workdir: string): Promise<{ child: ChildProcess; output: () => string }> {
  let out = '';
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'caliper.js'), 'agent', '--master', `ws://127.0.0.1:${port}/agents`, '--name', 'bench', '--workdir', workdir],
    { cwd: ROOT, env: { ...process.env, CALIPER_AGENT_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, output: () => out };
}

async function waitForAgent(http: Http, child: ChildProcess, output: () => string, timeoutMs = 30_000): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (child.exitCode !== null) throw new Error(`agent exited with code ${child.exitCode}:\n${output()}`);
    const agents = (await http.get('/agents')).agents as { name: string; connected: boolean }[];
    if (agents.some((a) => a.name === 'bench' && a.connected)) return performance.now() - t0;
    await sleep(50);
  }
  throw new Error(`agent did not connect within ${timeoutMs} ms:\n${output()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-bench-'));
let master: RunningMaster | null = null;
let agent: { child: ChildProcess; output: () => string } | null = null;
let exitCode = 0;
const lines: string[] = [];
// Ctrl-C: do not leave the agent or the temporary directory behind.
process.once('SIGINT', () => {
  agent?.child.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(130);
});

try {
  const dispatchSteps = Array.from(
    { length: STEPS },
    (_, i) => new ShellCommand({ name: `true-${String(i + 1).padStart(2, '0')}`, command: ['true'] }),
  );
  // Same builder, but each step prints one short line (most real steps print something).
  const echoSteps = Array.from(
    { length: STEPS },
    (_, i) => new ShellCommand({ name: `echo-${String(i + 1).padStart(2, '0')}`, command: ['echo', `step ${i + 1}`] }),
  );
  const config = compileConfig({
    title: 'Caliper bench',
    agents: [{ name: 'bench', token: TOKEN, maxBuilds: 1 }],
    builders: [
      { name: 'dispatch', agents: ['bench'], factory: new BuildFactory(dispatchSteps) },
      { name: 'dispatch-echo', agents: ['bench'], factory: new BuildFactory(echoSteps) },
      { name: 'logs', agents: ['bench'], factory: new BuildFactory([new ShellCommand({ name: 'print-50mb', command: LOG_COMMAND })]) },
    ],
  });
  master = await startMaster(config, { port: 0, dbUrl: `sqlite:${path.join(tmp, 'bench.sqlite')}`, log: silentLogger });
  const http = new Http(master.url);
  console.log(`master at ${master.url} (db ${path.join(tmp, 'bench.sqlite')}); ${os.cpus().length} CPUs, node ${process.version}`);

  agent = await startAgent(master.port, path.join(tmp, 'agent'));
  const connectMs = await waitForAgent(http, agent.child, agent.output);
  console.log(`agent child pid ${agent.child.pid} connected after ${fmt(connectMs, 0)} ms`);

  // --- 1. dispatch overhead -------------------------------------------------------------------------
  const directMs = await directSpawnMs(DIRECT_SPAWNS);
  console.log(`direct: ${DIRECT_SPAWNS} sequential spawns of \`true\`: ${fmt(directMs)} ms/spawn`);

  const warm = await runBuild(http, 'dispatch');
  console.log(
    `warm-up build ${warm.build.buildid}: ${fmt((warm.build.complete_at - warm.build.started_at) * 1000, 1)} ms for ${STEPS} steps`,
  );

  const perBuild: { buildMs: number; perStepBuild: number; perStepSteps: number; gapMs: number; clientMs: number }[] = [];
  for (let i = 0; i < BUILDS; i++) {
    const { build, steps, clientMs } = await runBuild(http, 'dispatch');
    if (steps.length !== STEPS) throw new Error(`build ${build.buildid} has ${steps.length} steps, expected ${STEPS}`);
    const buildMs = (build.complete_at - build.started_at) * 1000;
    const stepMs = steps.map((s) => (s.complete_at - s.started_at) * 1000);
    const perStepSteps = mean(stepMs);
    const perStepBuild = buildMs / STEPS;
    const gapMs = perStepBuild - perStepSteps; // time between steps (bookkeeping outside a step's own times)
    perBuild.push({ buildMs, perStepBuild, perStepSteps, gapMs, clientMs });
    console.log(
      `build ${build.buildid}: ${fmt(buildMs, 1)} ms total = ${fmt(perStepBuild)} ms/step; steps' own times ${fmt(perStepSteps)} ms/step ` +
        `(min ${fmt(Math.min(...stepMs))}, median ${fmt(median(stepMs))}, max ${fmt(Math.max(...stepMs))}); ` +
        `between steps ${fmt(gapMs)} ms; force->complete seen by client ${fmt(clientMs, 1)} ms`,
    );
  }
  const perStepBuild = mean(perBuild.map((b) => b.perStepBuild));
  const perStepSteps = mean(perBuild.map((b) => b.perStepSteps));
  const overhead = perStepBuild - directMs;
  const overheadSteps = perStepSteps - directMs;
  const met = overhead < TARGET_OVERHEAD_MS;

  // Extra: the same dispatch with one line of output per step (one measured build, after a warm-up).
  await runBuild(http, 'dispatch-echo');
  const echo = await runBuild(http, 'dispatch-echo');
  const echoPerStep = ((echo.build.complete_at - echo.build.started_at) * 1000) / STEPS;
  console.log(`echo build ${echo.build.buildid}: ${fmt(echoPerStep * STEPS, 1)} ms total = ${fmt(echoPerStep)} ms/step`);
  const rssAfterDispatch = maxRssMb();
  const agentRssAfterDispatch = procRssMb(agent.child.pid);

  // --- 2. log throughput ----------------------------------------------------------------------------
  const expectedSha = expectedLogSha256();
  // Direct baseline: the same command, stdout read (and dropped) in node; median of 3 runs (each is short).
  let directBytes = 0;
  const directRuns: number[] = [];
  for (let i = 0; i < 3; i++) {
    let bytes = 0;
    const d0 = performance.now();
    await spawnAndWait(LOG_COMMAND, (b) => {
      bytes += b.length;
    });
    directRuns.push(performance.now() - d0);
    directBytes = bytes;
  }
  const directLogMs = median(directRuns);
  // One more direct run for the content hash (hashing kept out of the timed runs).
  const directHash = createHash('sha256');
  await spawnAndWait(LOG_COMMAND, (b) => directHash.update(b));
  const directSha = directHash.digest('hex');
  console.log(
    `direct: ${LOG_COMMAND.join(' ')} -> ${directBytes} bytes in ${directRuns.map((t) => fmt(t, 0)).join(', ')} ms (median ${fmt(directLogMs, 0)} ms; expected ${LOG_BYTES} bytes)`,
  );

  const logRun = await runBuild(http, 'logs');
  const logBuildMs = (logRun.build.complete_at - logRun.build.started_at) * 1000;
  const logStep = logRun.steps[0] as StepInfo;
  const logStepMs = (logStep.complete_at - logStep.started_at) * 1000;
  const rssAfterLogs = maxRssMb();
  const agentRssAfterLogs = procRssMb(agent.child.pid);

  const logs = (await http.get(`/steps/${logStep.stepid}/logs`)).logs as {
    logid: number;
    slug: string;
    num_bytes: number;
    num_lines: number;
  }[];
  const stdio = logs.find((l) => l.slug === 'stdio');
  if (!stdio) throw new Error(`step ${logStep.stepid} has no stdio log (logs: ${JSON.stringify(logs)})`);
  const r0 = performance.now();
  const res = await fetch(`${master.url}/api/v2/logs/${stdio.logid}/raw`);
  if (!res.ok || !res.body) throw new Error(`GET /logs/${stdio.logid}/raw: HTTP ${res.status}`);
  const rawHash = createHash('sha256');
  let rawBytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    rawBytes += chunk.length;
    rawHash.update(chunk);
  }
  const rawMs = performance.now() - r0;
  const rawSha = rawHash.digest('hex');
  // Read straight from the database: how many chunks the 50 MiB were stored as (not in the API).
  const chunkRows = (await internalsOf(master).db.source.query('SELECT COUNT(*) AS n FROM logchunks WHERE logid = ?', [stdio.logid])) as {
    n: number;
  }[];
  const chunkCount = Number(chunkRows[0]?.n);

  const sizeOk = rawBytes === LOG_BYTES && directBytes === LOG_BYTES && stdio.num_bytes === LOG_BYTES;
  const shaOk = rawSha === directSha && directSha === expectedSha;
  const identical = sizeOk && shaOk;
  if (!identical) exitCode = 1;
  console.log(
    `log build ${logRun.build.buildid}: build ${fmt(logBuildMs, 0)} ms (step ${fmt(logStepMs, 0)} ms); stdio log ${stdio.logid}: ` +
      `num_bytes ${stdio.num_bytes}, num_lines ${stdio.num_lines}, ${chunkCount} chunks stored`,
  );
  console.log(`raw log: ${rawBytes} bytes in ${fmt(rawMs, 0)} ms, sha256 ${rawSha}`);
  console.log(`direct : ${directBytes} bytes,            sha256 ${directSha}`);
  console.log(`expect : ${LOG_BYTES} bytes,            sha256 ${expectedSha}`);

  const mb = LOG_BYTES / MiB;
  const caliperMBs = mb / (logBuildMs / 1000);
  const directMBs = mb / (directLogMs / 1000);

  lines.push(
    `dispatch: ${STEPS} steps x ${BUILDS} builds: ${fmt(perStepBuild)} ms/step through Caliper vs ${fmt(directMs)} ms direct spawn ` +
      `-> overhead ${fmt(overhead)} ms/step (target < ${TARGET_OVERHEAD_MS} ms: ${met ? 'met' : 'NOT met'})`,
    `dispatch: ratio build-per-step / direct-per-spawn = ${fmt(perStepBuild / directMs)}x; ` +
      `steps' own started_at..complete_at: ${fmt(perStepSteps)} ms/step (overhead ${fmt(overheadSteps)} ms), ` +
      `between steps: ${fmt(perStepBuild - perStepSteps)} ms/step`,
    `dispatch: builds ${perBuild.map((b) => fmt(b.buildMs, 1)).join(', ')} ms (median ${fmt(median(perBuild.map((b) => b.buildMs)), 1)} ms); ` +
      `force->complete seen by client (poll ${POLL_MS} ms): median ${fmt(median(perBuild.map((b) => b.clientMs)), 1)} ms`,
    `dispatch (extra): same ${STEPS} steps but each prints one line (\`echo\`): ${fmt(echoPerStep)} ms/step ` +
      `(+${fmt(echoPerStep - perStepBuild)} ms/step over the silent \`true\` steps)`,
    `logs: ${fmt(mb, 1)} MiB in ${fmt(logBuildMs / 1000, 2)} s = ${fmt(caliperMBs, 1)} MiB/s through Caliper vs ${fmt(directMBs, 1)} MiB/s direct ` +
      `(ratio ${fmt(caliperMBs / directMBs, 3)}), raw log byte-identical: ${identical ? 'yes' : 'NO'} (${identical ? 'OK' : 'MISMATCH'}: ` +
      `size ${sizeOk ? 'ok' : `raw ${rawBytes} / direct ${directBytes} / num_bytes ${stdio.num_bytes} vs ${LOG_BYTES}`}, sha256 ${shaOk ? 'ok' : 'differs'})`,
    `logs: raw read-back ${fmt(mb / (rawMs / 1000), 1)} MiB/s (${fmt(rawMs, 0)} ms); ${chunkCount} chunks of ~${fmt(LOG_BYTES / Number(chunkCount) / 1024, 1)} KiB`,
    `memory: bench+master process peak RSS ${fmt(rssAfterDispatch, 1)} MiB after dispatch, ${fmt(rssAfterLogs, 1)} MiB after the log run ` +
      `(grew ${fmt(rssAfterLogs - rssAfterDispatch, 1)} MiB), ${fmt(maxRssMb(), 1)} MiB after the raw read-back`,
    `memory: agent child RSS ${agentRssAfterDispatch ? fmt(agentRssAfterDispatch.rss, 1) : '?'} MiB after dispatch; ` +
      `after the log run ${agentRssAfterLogs ? `${fmt(agentRssAfterLogs.rss, 1)} MiB (peak ${fmt(agentRssAfterLogs.peak, 1)} MiB)` : '?'}`,
  );
} catch (e) {
  exitCode = 1;
  console.error(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  if (agent) console.error(`agent output (tail):\n${agent.output()}`);
} finally {
  if (agent) await stopChild(agent.child);
  if (master) await master.stop().catch((e: unknown) => console.error(`master stop: ${String(e)}`));
  fs.rmSync(tmp, { recursive: true, force: true });
}

if (lines.length > 0) {
  console.log('\n=== figures ===');
  for (const l of lines) console.log(l);
}
process.exit(exitCode);
