/**
 * bench:agents: a real Caliper master (a child process, SQLite) against N real WebSocket agents from a
 * load generator (fake-agents.ts in a few child processes) for N = 100, 1000 and 10 000: time to
 * connect them all, idle CPU and RSS, time to dispatch 200 trivial builds, API latencies with 10 000
 * builds stored. One master per N, on the same database, so the builds stored carry over.
 *
 *   npm run bench:agents              (raises the open-files limit; several minutes)
 *   npm run bench:agents -- --smoke   (20 agents, tiny sizes: what CI runs)
 *
 * Progress to stderr, the table to stdout. Exits 1 when agents do not all connect, a build fails or
 * the API answers an error; 2 for a bad knob or too low an open-files limit. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ROOT, freePort } from '../soak/processes.ts';
import { caliperBin, startCaliperMaster, type CaliperMaster } from '../compare/caliper-processes.ts';
import { getJson, postJson } from '../compare/http-json.ts';
import { median } from '../compare/measure.ts';
import { BUILDER, agentsConfigText } from './config-file.ts';
import { Fleet } from './fleet.ts';
import { USAGE, agentsOptions, type AgentsOptions } from './options.ts';
import { cpuMs, openFilesLimit, rssMiB } from './proc-stats.ts';
import { agentsTable, type ApiTiming, type DispatchFigures, type FleetFigures } from './table.ts';

const log = (line: string) => console.error(`agents: ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wallClockMs = () => performance.timeOrigin + performance.now();
const totalAnswer = z.object({ meta: z.object({ total: z.number() }) });
const forceAnswer = z.object({ buildrequestid: z.number() });

let options: AgentsOptions;
try {
  options = agentsOptions(process.argv.slice(2), process.env);
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(2);
}

// File descriptors: the master holds one socket per agent, besides its database and files.
const needFds = Math.max(...options.agentCounts) + 1024;
if (openFilesLimit() < needFds) {
  console.error(
    `agents: the open-files limit is ${openFilesLimit()}, and ${Math.max(...options.agentCounts)} agents need at least ${needFds}: ` +
      `run "ulimit -n ${needFds}" (or more) first; npm run bench:agents raises it to the hard limit (ulimit -Hn: raise that in ` +
      `/etc/security/limits.conf or the container's settings).\n${USAGE}`,
  );
  process.exit(2);
}

fs.mkdirSync(path.join(ROOT, 'tmp'), { recursive: true });
const dir = fs.mkdtempSync(path.join(ROOT, 'tmp', 'agents-'));
const dbUrl = `sqlite:${path.join(dir, 'agents.sqlite')}`;
/** What runs now, for the SIGINT handler and the final clean-up. */
const live: { master: CaliperMaster | null; fleet: Fleet | null } = { master: null, fleet: null };
process.once('SIGINT', () => {
  live.fleet?.killNow();
  live.master?.child.killNow();
  process.exit(130);
});

const total = async (url: string) => totalAnswer.parse(await getJson(url)).meta.total;

/** Forces `count` builds of the trivial builder, `concurrency` requests in flight. */
async function forceMany(api: string, count: number, concurrency = 16): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        next++;
        forceAnswer.parse(await postJson(`${api}/builders/${BUILDER}/force`, { reason: 'bench:agents' }));
      }
    }),
  );
}

/** Waits until no build request is open; polls at elapsed / 50 (10–500 ms). The time it saw that, performance.now() ms. */
async function untilNoOpenRequests(api: string, timeoutMs = 1_800_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if ((await total(`${api}/buildrequests?complete=false&limit=1`)) === 0) return performance.now();
    const elapsed = performance.now() - t0;
    if (elapsed > timeoutMs) throw new Error(`build requests still open after ${timeoutMs / 1000} s`);
    await sleep(Math.min(500, Math.max(10, elapsed / 50)));
  }
}

async function timeGets(url: string, n: number): Promise<ApiTiming> {
  const once = async () => {
    const t0 = performance.now();
    const res = await fetch(url);
    const body = await res.arrayBuffer();
    if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
    return { ms: performance.now() - t0, bytes: body.byteLength };
  };
  await once(); // warm-up
  const runs: { ms: number; bytes: number }[] = [];
  for (let i = 0; i < n; i++) runs.push(await once());
  return { medianMs: median(runs.map((r) => r.ms)), maxMs: Math.max(...runs.map((r) => r.ms)), bytes: runs[0]?.bytes ?? 0 };
}

/** One dispatch round: `dispatchBuilds` trivial builds forced at once, each to a fake agent. */
async function dispatchRound(n: number, which: string, api: string, pid: number, fleet: Fleet): Promise<DispatchFigures> {
  await fleet.collectRuns();
  const d = options.dispatchBuilds;
  const cpu0 = cpuMs(pid);
  const d0 = wallClockMs();
  const p0 = performance.now();
  await forceMany(api, d);
  const doneAt = await untilNoOpenRequests(api);
  const cpuPerBuildMs = (cpuMs(pid) - cpu0) / d;
  const runs = await fleet.collectRuns();
  if (runs.length !== d) throw new Error(`${d} builds forced, but the agents received ${runs.length} run frames`);
  const failed = await total(`${api}/buildrequests?results__ne=0&limit=1`);
  if (failed > 0) throw new Error(`${failed} build request(s) did not end SUCCESS`);
  const figures = { dispatchMs: Math.max(...runs) - d0, completeMs: doneAt - p0, cpuPerBuildMs };
  log(
    `N = ${n}: ${d} builds (${which}): last run at an agent after ${figures.dispatchMs.toFixed(0)} ms, ` +
      `all complete after ${figures.completeMs.toFixed(0)} ms, master CPU ${cpuPerBuildMs.toFixed(2)} ms/build`,
  );
  return figures;
}

async function measureFleet(n: number): Promise<FleetFigures> {
  const runDir = path.join(dir, `n${n}`);
  fs.mkdirSync(runDir, { recursive: true });
  const secret = randomBytes(12).toString('hex');
  const configFile = path.join(runDir, 'master.config.ts');
  fs.writeFileSync(configFile, agentsConfigText(n, secret));
  log(`N = ${n}: starting the master`);
  const master = await startCaliperMaster({ configFile, port: await freePort(), dbUrl, logFile: path.join(runDir, 'master.log') });
  live.master = master;
  const api = `${master.url}/api/v2`;
  const pid = master.child.pid;
  const processes = options.generators || Math.min(4, Math.max(1, Math.ceil(n / 2500)));
  const fleet = await Fleet.start(n, processes);
  live.fleet = fleet;

  // Connect.
  const t0 = wallClockMs();
  fleet.connect(`ws://127.0.0.1:${master.port}/agents`, secret, { spawn: options.spawn, concurrency: options.connectConcurrency });
  await fleet.until((t) => t.allConnectedAt !== null, options.connectTimeoutSeconds * 1000);
  const conn = fleet.totals();
  const connectMs = conn.allConnectedAt === null ? null : conn.allConnectedAt - t0;
  log(
    `N = ${n}: ${conn.connected}/${n} connected in ${connectMs === null ? `more than ${options.connectTimeoutSeconds} s` : `${connectMs.toFixed(0)} ms`} ` +
      `by ${processes} generator(s); dropped ${conn.dropped}, retried ${conn.retried}, lost ${conn.lost}, rejects ${JSON.stringify(conn.rejects)}`,
  );
  if (conn.connected < n) throw new Error(`only ${conn.connected} of ${n} agents connected; see ${runDir}/master.log`);

  // Idle.
  await sleep(options.settleSeconds * 1000);
  const c0 = cpuMs(pid);
  await sleep(options.idleSeconds * 1000);
  const idleCpuPercent = ((cpuMs(pid) - c0) / (options.idleSeconds * 1000)) * 100;
  const idleRssMiB = rssMiB(pid);
  log(`N = ${n}: idle ${idleCpuPercent.toFixed(2)} % of a core, RSS ${idleRssMiB.toFixed(1)} MiB`);

  // Dispatch: the first builds after start (V8 compiles the path as it goes), then, after
  // `warmupBuilds` more, the same number again on a master in its steady state.
  const first = await dispatchRound(n, 'first after start', api, pid, fleet);
  for (let done = 0; done < options.warmupBuilds; done += options.dispatchBuilds) {
    await forceMany(api, Math.min(options.dispatchBuilds, options.warmupBuilds - done));
    await untilNoOpenRequests(api);
  }
  await fleet.collectRuns();
  const warm = await dispatchRound(n, `after ${options.warmupBuilds} more`, api, pid, fleet);

  // Builds stored, then the API.
  let stored = await total(`${api}/builds?limit=1`);
  while (stored < options.storedBuilds) {
    const batch = Math.min(500, options.storedBuilds - stored);
    await forceMany(api, batch);
    await untilNoOpenRequests(api);
    stored = await total(`${api}/builds?limit=1`);
    log(`N = ${n}: ${stored} builds stored`);
  }
  const builds = await timeGets(`${api}/builds?limit=200`, options.apiRequests);
  const agentsApi = await timeGets(`${api}/agents`, options.apiRequests);
  const builders = await timeGets(`${api}/builders`, options.apiRequests);
  log(
    `N = ${n}: GET /builds?limit=200 ${builds.medianMs.toFixed(1)} ms, /agents ${agentsApi.medianMs.toFixed(1)} ms, /builders ${builders.medianMs.toFixed(1)} ms`,
  );

  const after = fleet.totals();
  await fleet.stop();
  live.fleet = null;
  await master.child.stop(30_000);
  live.master = null;
  return {
    agents: n,
    connected: conn.connected,
    connectMs,
    dropped: after.dropped,
    retried: after.retried,
    lost: after.lost,
    idleCpuPercent,
    idleRssMiB,
    first,
    warm,
    storedBuilds: stored,
    builds,
    agentsApi,
    builders,
  };
}

let exitCode = 0;
const results: FleetFigures[] = [];
try {
  log(`node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(2)}; run directory ${dir}`);
  for (const n of options.agentCounts) results.push(await measureFleet(n));
} catch (e) {
  exitCode = 1;
  console.error(`agents: FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
} finally {
  await live.fleet?.stop();
  await live.master?.child.stop(30_000);
  if (exitCode === 0 && !options.keep) fs.rmSync(dir, { recursive: true, force: true });
  else log(`kept ${dir} (master logs and database)`);
}
if (results.length > 0) {
  console.log(
    `\nCaliper (${path.relative(ROOT, caliperBin())}), node ${process.version}, ${os.cpus().length} CPUs${options.smoke ? ' (smoke size)' : ''}; fake agents ${options.spawn ? 'spawn each command' : 'answer run with exit 0 at once'}\n`,
  );
  console.log(agentsTable(options, results));
}
process.exit(exitCode);
