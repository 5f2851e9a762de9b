/**
 * Caliper's processes as the benchmarks start them: `caliper start` (a master) and `caliper agent`,
 * each a child of the bench with its output in a file.
 *
 * Which `caliper` command: by default the one the package ships, bin/caliper.js (the compiled dist/,
 * which `npm run bench:compare` and `bench:agents` build first): what an installed Caliper runs.
 * BENCH_CALIPER_BIN=bin/caliper-dev.js runs the checkout's TypeScript sources instead (never stale;
 * the smoke test uses it, as the other tests do).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../soak/processes.ts';
import { LoggedChild } from './child.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function caliperBin(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.BENCH_CALIPER_BIN;
  if (chosen) {
    const file = path.resolve(ROOT, chosen);
    if (!fs.existsSync(file)) throw new Error(`BENCH_CALIPER_BIN=${chosen}: ${file} does not exist`);
    return file;
  }
  return path.join(ROOT, 'bin', 'caliper.js');
}

export interface CaliperMaster {
  child: LoggedChild;
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
}

/** Starts `caliper start` and waits for the line naming its URL. */
export async function startCaliperMaster(
  opts: { configFile: string; port: number; dbUrl: string; logFile: string; env?: NodeJS.ProcessEnv },
  timeoutMs = 120_000,
): Promise<CaliperMaster> {
  const child = new LoggedChild(
    'the Caliper master',
    // BENCH_MASTER_NODE_ARGS: node flags for the master alone, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`
    // (node refuses --cpu-prof in NODE_OPTIONS, and it would profile every process of the bench).
    [
      process.execPath,
      ...(process.env.BENCH_MASTER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      caliperBin(),
      'start',
      '--config',
      opts.configFile,
      '--port',
      String(opts.port),
      '--db',
      opts.dbUrl,
    ],
    { cwd: path.dirname(opts.configFile), env: opts.env ?? process.env, logFile: opts.logFile },
  );
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = /at (http:\/\/127\.0\.0\.1:(\d+))/.exec(child.output());
    if (m?.[1] && m[2]) return { child, url: m[1], port: Number(m[2]) };
    if (!child.running) throw new Error(`the Caliper master exited while starting:\n${child.output()}`);
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`the Caliper master did not start within ${timeoutMs / 1000} s:\n${child.output()}`);
    }
    await sleep(50);
  }
}

/** Starts `caliper agent` (token through the environment, out of the process list). */
export function startCaliperAgent(opts: {
  name: string;
  token: string;
  masterPort: number;
  workdir: string;
  logFile: string;
}): LoggedChild {
  fs.mkdirSync(opts.workdir, { recursive: true });
  return new LoggedChild(
    `the Caliper agent ${opts.name}`,
    [
      process.execPath,
      // BENCH_AGENT_NODE_ARGS: node flags for the agent alone, as BENCH_MASTER_NODE_ARGS for the master.
      ...(process.env.BENCH_AGENT_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      caliperBin(),
      'agent',
      '--master',
      `ws://127.0.0.1:${opts.masterPort}/agents`,
      '--name',
      opts.name,
      '--workdir',
      opts.workdir,
      // BENCH_AGENT_ARGS: more `caliper agent` options, e.g. `--spawn node` to measure the agent forking itself.
      ...(process.env.BENCH_AGENT_ARGS?.split(' ').filter(Boolean) ?? []),
    ],
    { cwd: opts.workdir, env: { ...process.env, CALIPER_AGENT_TOKEN: opts.token }, logFile: opts.logFile },
  );
}
