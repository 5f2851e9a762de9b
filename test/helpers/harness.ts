/** A real master in the test process and real agent processes over real WebSockets. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileConfig } from '../../master/config/compile.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import { startMaster, type MasterOptions, type RunningMaster } from '../../master/master.ts';
import { silentLogger } from '../../core/logger.ts';
import { internalsOf } from '../../master/testing.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The `caliper` command from the sources (tsx): never stale, where bin/caliper.js runs dist/. */
export const CLI = path.join(ROOT, 'bin/caliper-dev.js');

export async function startTestMaster(
  config: ConfigInput,
  dbUrl: string,
  name = `test-${process.pid}`,
  extra: Partial<MasterOptions> = {},
): Promise<RunningMaster> {
  return startMaster(compileConfig(config), {
    port: 0,
    host: '127.0.0.1',
    dbUrl,
    log: silentLogger,
    name,
    shutdownTimeoutMs: 3000,
    ...extra,
  });
}

export interface AgentProcess {
  child: ChildProcess;
  workdir: string;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** An agent process from the sources (bin/caliper-dev.js), dialling `master` (or anything listening where it says, a proxy say). */
export function spawnAgent(master: Pick<RunningMaster, 'port'>, name: string, token: string, extra: string[] = []): AgentProcess {
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), `caliper-agent-${name}-`));
  const child = spawn(
    process.execPath,
    [CLI, 'agent', '--master', `ws://127.0.0.1:${master.port}/agents`, '--name', name, '--workdir', workdir, ...extra],
    {
      env: { ...process.env, CALIPER_AGENT_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    child,
    workdir,
    output: () => out,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startAgent(master: RunningMaster, name: string, token: string, extra: string[] = []): Promise<AgentProcess> {
  const agent = spawnAgent(master, name, token, extra);
  await waitFor(`agent ${name} to connect (output: ${agent.output()})`, () => internalsOf(master).registry.isConnected(name));
  return agent;
}

export interface Api {
  get<T = any>(p: string): Promise<{ status: number; body: T }>;
  post<T = any>(p: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  raw(p: string): Promise<Buffer>;
}

export function api(master: RunningMaster): Api {
  const base = `${master.url}/api/v2`;
  return {
    async get(p) {
      const res = await fetch(base + p);
      return { status: res.status, body: await res.json() };
    },
    async post(p, body, headers = {}) {
      const res = await fetch(base + p, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body ?? {}),
      });
      return { status: res.status, body: await res.json() };
    },
    async raw(p) {
      const res = await fetch(base + p);
      if (res.status !== 200) throw new Error(`GET ${p}: ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}

/** Forces a build and waits for its request to complete; returns the build, steps and their logs. */
export async function forceAndWait(master: RunningMaster, builder: string, body: Record<string, unknown> = {}, timeoutMs = 30_000) {
  const client = api(master);
  const forced = await client.post(`/builders/${builder}/force`, body);
  if (forced.status !== 202) throw new Error(`force failed: ${JSON.stringify(forced.body)}`);
  return waitForRequest(master, forced.body.buildrequestid as number, timeoutMs);
}

export async function waitForRequest(master: RunningMaster, buildrequestid: number, timeoutMs = 30_000) {
  const client = api(master);
  await waitFor(
    `build request ${buildrequestid}`,
    async () => (await client.get(`/buildrequests/${buildrequestid}`)).body.buildrequests[0].complete,
    timeoutMs,
  );
  const builds = (await client.get(`/builds?buildrequestid=${buildrequestid}&order=-buildid`)).body.builds;
  const build = builds[0];
  const steps = (await client.get(`/builds/${build.buildid}/steps`)).body.steps;
  return { build, builds, steps, buildrequestid };
}

export async function stepLog(master: RunningMaster, stepid: number, slug = 'stdio'): Promise<Buffer> {
  const client = api(master);
  const logs = (await client.get(`/steps/${stepid}/logs`)).body.logs as { logid: number; slug: string }[];
  const log = logs.find((l) => l.slug === slug);
  if (!log) throw new Error(`step ${stepid} has no log ${slug}`);
  return client.raw(`/logs/${log.logid}/raw`);
}

/** PIDs of processes whose command line contains `marker`. */
export function processesMatching(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(marker) && Number(entry) !== process.pid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
