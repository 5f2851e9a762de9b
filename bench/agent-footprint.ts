/**
 * The agent's footprint: how long `caliper agent` takes from start to connected, how much memory it
 * holds idle (its helpers included), and what one spawn of `true` costs from inside it.
 *
 *   npm run bench:agent          (or: npx tsx bench/agent-footprint.ts [--cli bin/caliper.js] [--runs 3])
 *
 * A real master runs in this process; the agent is the real command (`node CLI agent ...`) as a child:
 *   - connected: from spawn to the agent's "connected to" line (the master's welcome handled);
 *   - RSS: VmRSS of the agent and every process under it (the orphan guard), from /proc, 1 s after
 *     connecting and idle (12 s after: V8 collects the start-up garbage and gives the pages back
 *     after some seconds without work); "anon" is the part no other process shares (the rest is
 *     mostly the node binary's pages, shared by every node process on the machine);
 *   - RSS after a build: the agent and its spawn helper (perl), which starts with the first command;
 *   - a command through the spawn helper: 200 sequential `true`, launch to closed, median (what the
 *     agent pays per command by default);
 *   - spawn: 200 sequential spawn('true') (stdio as the agent's commands have it), median, timed
 *     inside the running agent (a module preloaded with --import), beside the same from a bare node
 *     and from a node holding 100 MB: fork's cost grows with the parent's address space (what
 *     `--spawn node` pays);
 *   - after a log: the same agent's RSS, its malloc heap and the spawn again once it has run a build
 *     printing LOG_MIB: what its output path leaves behind makes every later step's fork dearer.
 * Linux only (/proc). Run `npm run build` first when --cli is bin/caliper.js (the compiled agent).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BuildFactory, ShellCommand, compileConfig, startMaster } from '../index.ts';
import { silentLogger } from '../core/logger.ts';
import { internalsOf } from '../master/testing.ts';
import { SpawnHelper, findPerl } from '../agent/spawn-helper.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { cli: { type: 'string' }, runs: { type: 'string' } } });
const CLI = path.resolve(ROOT, values.cli ?? 'bin/caliper.js');
const RUNS = Number(values.runs ?? 3);
const IDLE_MS = 12_000;
const TOKEN = 'footprint-token-0123456789';
const SPAWNS = 200;
const LOG_MIB = 50;

// Times SPAWNS spawns of `true` in the process it is preloaded into, once it has run a while
// (the agent connected) or, with FOOTPRINT_ON_SIGNAL, on SIGUSR2, and writes the median to
// $FOOTPRINT_OUT. BALLAST_MB first allocates and touches that much memory. Only in the process whose
// argv names the agent command (not helpers).
const PROBE = `
import { spawn } from 'node:child_process';
import fs from 'node:fs';
const out = process.env.FOOTPRINT_OUT;
delete process.env.NODE_OPTIONS;
const ballast = Buffer.alloc(Number(process.env.BALLAST_MB ?? 0) * 1024 * 1024, 1);
const once = () => new Promise((resolve, reject) => {
  const child = spawn('true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', reject);
  child.on('close', resolve);
});
const onSignal = process.env.FOOTPRINT_ON_SIGNAL !== undefined;
delete process.env.FOOTPRINT_ON_SIGNAL;
if (out && (process.argv.includes('agent') || process.env.BALLAST_MB !== undefined)) {
  const when = (probe) => (onSignal ? process.once('SIGUSR2', probe) : setTimeout(probe, 1500));
  when(async () => {
    for (let i = 0; i < 20; i++) await once();
    const times = [];
    for (let i = 0; i < ${SPAWNS}; i++) {
      const t = performance.now();
      await once();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const rss = Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    fs.writeFileSync(out, JSON.stringify({ medianMs: times[times.length >> 1], rssMb: rss, ballast: ballast.length }));
    if (process.env.BALLAST_MB !== undefined) process.exit(0);
  });
}
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;

/** A process's VmRSS and RssAnon in MiB, and its children's pids, from /proc. */
function proc(pid: number): { rss: number; anon: number; children: number[] } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  const children = fs
    .readdirSync(`/proc/${pid}/task`)
    .flatMap((t) => fs.readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024, children };
}

/** RSS of a process and all under it, and the command line of each. */
function treeRss(pid: number): { rss: number; anon: number; processes: string[] } {
  const p = proc(pid);
  const comm = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 2).join(' ');
  const total = { rss: p.rss, anon: p.anon, processes: [`${comm} (${p.rss.toFixed(1)} MB)`] };
  for (const child of p.children) {
    const t = treeRss(child);
    total.rss += t.rss;
    total.anon += t.anon;
    total.processes.push(...t.processes);
  }
  return total;
}

function startAgent(port: number, workdir: string, env: NodeJS.ProcessEnv = {}): { child: ChildProcess; connected: Promise<number> } {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'agent', '--master', `ws://127.0.0.1:${port}/agents`, '--name', 'fp', '--workdir', workdir], {
    env: { ...process.env, CALIPER_AGENT_TOKEN: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const connected = new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('connected to')) resolve(performance.now() - t0);
    });
    child.once('exit', (code) => reject(new Error(`agent exited (${code}) before connecting: ${out}`)));
  });
  return { child, connected };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function probeSpawn(env: NodeJS.ProcessEnv, run: (env: NodeJS.ProcessEnv) => Promise<void>) {
  const out = path.join(tmp, `probe-${Math.random().toString(36).slice(2)}.json`);
  await run({ ...env, FOOTPRINT_OUT: out, NODE_OPTIONS: `--import=${probeFile}` });
  for (let i = 0; i < 200 && !fs.existsSync(out); i++) await sleep(50);
  return JSON.parse(fs.readFileSync(out, 'utf8')) as { medianMs: number; rssMb: number };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-footprint-'));
const probeFile = path.join(tmp, 'probe.mjs');
fs.writeFileSync(probeFile, PROBE);
const config = compileConfig({
  agents: [{ name: 'fp', token: TOKEN }],
  builders: [
    { name: 'noop', agents: ['fp'], factory: new BuildFactory([new ShellCommand({ name: 'true', command: ['true'] })]) },
    // LOG_MIB of 100-byte lines (99 'x' and a newline), as bench/dispatch.ts prints.
    {
      name: 'log',
      agents: ['fp'],
      factory: new BuildFactory([
        new ShellCommand({ name: 'print', command: ['sh', '-c', `yes ${'x'.repeat(99)} | head -n ${(LOG_MIB * 1024 * 1024) / 100}`] }),
      ]),
    },
  ],
});
const master = await startMaster(config, { port: 0, dbUrl: `sqlite:${path.join(tmp, 'fp.sqlite')}`, log: silentLogger });
const registry = internalsOf(master).registry;
try {
  console.log(`agent: node ${CLI} agent (node ${process.version}, ${os.cpus().length} CPUs)`);
  const connects: number[] = [];
  const early: ReturnType<typeof treeRss>[] = [];
  const idle: ReturnType<typeof treeRss>[] = [];
  for (let i = 0; i < RUNS; i++) {
    const agent = startAgent(master.port, path.join(tmp, 'agent'));
    const connectedMs = await agent.connected;
    connects.push(connectedMs);
    await sleep(1000);
    early.push(treeRss(agent.child.pid ?? 0));
    await sleep(IDLE_MS - 1000);
    idle.push(treeRss(agent.child.pid ?? 0));
    await stop(agent.child);
    while (registry.isConnected('fp')) await sleep(20);
  }
  const rss = (trees: ReturnType<typeof treeRss>[]) =>
    `${median(trees.map((t) => t.rss)).toFixed(1)} MB (anonymous ${median(trees.map((t) => t.anon)).toFixed(1)} MB)`;
  console.log(`start -> connected: median ${median(connects).toFixed(0)} ms (${connects.map((c) => c.toFixed(0)).join(', ')})`);
  console.log(`RSS with helpers, median: 1 s after connecting ${rss(early)}; idle (${IDLE_MS / 1000} s) ${rss(idle)}`);
  console.log(`  processes: ${idle.at(-1)?.processes.join('; ')}`);

  // The spawn helper starts with the agent's first command: the agent and its helper while a build runs.
  const busy = startAgent(master.port, path.join(tmp, 'agent'));
  await busy.connected;
  await buildOnce(master.port, 'noop');
  const working = treeRss(busy.child.pid ?? 0);
  await stop(busy.child);
  while (registry.isConnected('fp')) await sleep(20);
  console.log(
    `RSS with helpers after a build (the spawn helper running): ${working.rss.toFixed(1)} MB (anonymous ${working.anon.toFixed(1)} MB)`,
  );
  console.log(`  processes: ${working.processes.join('; ')}`);
  const viaHelper = await helperLaunchMs();
  console.log(`a command through the spawn helper (launch to closed, \`true\`), median of ${SPAWNS}: ${viaHelper.toFixed(2)} ms`);

  const inAgent = await probeSpawn({}, async (env) => {
    const agent = startAgent(master.port, path.join(tmp, 'agent'), env);
    await agent.connected;
    await sleep(4000);
    await stop(agent.child);
  });
  const bare = await probeSpawn({ BALLAST_MB: '0' }, (env) => runNode(env));
  const big = await probeSpawn({ BALLAST_MB: '100' }, (env) => runNode(env));
  console.log(`spawn('true'), median of ${SPAWNS}:`);
  console.log(`  from the agent (${inAgent.rssMb.toFixed(0)} MB RSS): ${inAgent.medianMs.toFixed(2)} ms`);
  console.log(`  from a bare node (${bare.rssMb.toFixed(0)} MB RSS): ${bare.medianMs.toFixed(2)} ms`);
  console.log(`  from a node holding 100 MB (${big.rssMb.toFixed(0)} MB RSS): ${big.medianMs.toFixed(2)} ms`);

  let afterLog: { tree: ReturnType<typeof treeRss>; heapMb: number } | null = null;
  const afterLogSpawn = await probeSpawn({ FOOTPRINT_ON_SIGNAL: '1' }, async (env) => {
    const agent = startAgent(master.port, path.join(tmp, 'agent'), env);
    await agent.connected;
    await buildOnce(master.port, 'log');
    await sleep(2000);
    const pid = agent.child.pid ?? 0;
    afterLog = { tree: treeRss(pid), heapMb: mallocHeapMb(pid) };
    agent.child.kill('SIGUSR2');
    await waitForFile(out(env));
    await stop(agent.child);
  });
  const after = afterLog as { tree: ReturnType<typeof treeRss>; heapMb: number } | null;
  if (after) {
    console.log(
      `after a ${LOG_MIB} MiB log: RSS with helpers ${after.tree.rss.toFixed(1)} MB (anonymous ${after.tree.anon.toFixed(1)} MB, ` +
        `of which malloc's heap ${after.heapMb.toFixed(1)} MB); spawn('true') from the agent ${afterLogSpawn.medianMs.toFixed(2)} ms`,
    );
  }
} finally {
  await master.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}

/** Median time from launch to closed of `true` through a spawn helper (agent/spawn-helper.ts), as the agent runs one. */
async function helperLaunchMs(): Promise<number> {
  const perl = findPerl();
  if (!perl) return NaN;
  const helper = new SpawnHelper(perl, process.env, (line) => console.error(line));
  const once = () =>
    new Promise<void>((resolve, reject) =>
      helper.launch(
        { file: 'true', args: [], cwd: tmp, env: {} },
        { started() {}, output() {}, exited() {}, closed: () => resolve(), failed: reject },
      ),
    );
  try {
    for (let i = 0; i < 20; i++) await once();
    const times: number[] = [];
    for (let i = 0; i < SPAWNS; i++) {
      const t = performance.now();
      await once();
      times.push(performance.now() - t);
    }
    return median(times);
  } finally {
    helper.stop();
  }
}

/** The probe's output file named in `env`. */
function out(env: NodeJS.ProcessEnv): string {
  return env.FOOTPRINT_OUT ?? '';
}

async function waitForFile(file: string): Promise<void> {
  for (let i = 0; i < 600 && !fs.existsSync(file); i++) await sleep(50);
}

/** Anonymous memory of a process's `[heap]` (glibc malloc's main arena), in MiB, from /proc. */
function mallocHeapMb(pid: number): number {
  const smaps = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const at = smaps.search(/ \[heap\]\n/);
  if (at < 0) return 0;
  return Number(/^Anonymous:\s+(\d+) kB/m.exec(smaps.slice(at))?.[1] ?? 0) / 1024;
}

/** Forces a build of `builder` on the master at `port` and waits for its request to complete. */
async function buildOnce(port: number, builder: string): Promise<void> {
  const api = `http://127.0.0.1:${port}/api/v2`;
  const forced = await fetch(`${api}/builders/${builder}/force`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  if (!forced.ok) throw new Error(`force ${builder}: HTTP ${forced.status} ${await forced.text()}`);
  const { buildrequestid } = (await forced.json()) as { buildrequestid: number };
  for (;;) {
    const { buildrequests } = (await (await fetch(`${api}/buildrequests/${buildrequestid}`)).json()) as {
      buildrequests: { complete: boolean }[];
    };
    if (buildrequests[0]?.complete) return;
    await sleep(100);
  }
}

function runNode(env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { env: { ...process.env, ...env }, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', () => resolve());
  });
}
