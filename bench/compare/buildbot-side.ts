/**
 * Buildbot 3.7 (Debian's packages) as a BenchSystem: `buildbot create-master` and
 * `buildbot-worker create-worker` in the run's directory, the generated master.cfg, both started in
 * the foreground (`start --nodaemon`) as children of the bench, the worker on loopback. Builds are
 * forced through the force schedulers' JSON-RPC (`POST /api/v2/forceschedulers/NAME`) and read
 * back through Buildbot's REST API.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { ROOT, freePort } from '../soak/processes.ts';
import { LoggedChild } from './child.ts';
import { BUILDBOT_WORKER, forceSchedulerOf, masterCfg, writeWwwStandIn } from './buildbot-config.ts';
import { getJson, postJson } from './http-json.ts';
import type { BenchSystem, FinishedBuild } from './system.ts';
import { builderSteps, type BuilderName, type WorkloadSize } from './workload.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const forceAnswer = z.object({ result: z.tuple([z.number(), z.record(z.string(), z.number())]) });
const requestsAnswer = z.object({ buildrequests: z.array(z.object({ complete: z.boolean() })) });
const buildsAnswer = z.object({ builds: z.array(z.object({ buildid: z.number(), results: z.number().nullable() })) });
const stepsAnswer = z.object({ steps: z.array(z.object({ stepid: z.number(), name: z.string() })) });
const logsAnswer = z.object({ logs: z.array(z.object({ logid: z.number(), slug: z.string(), num_lines: z.number() })) });
const chunksAnswer = z.object({ logchunks: z.array(z.object({ content: z.string() })) });
const workersAnswer = z.object({ workers: z.array(z.object({ name: z.string(), connected_to: z.array(z.unknown()) })) });
const countAnswer = z.object({ meta: z.object({ total: z.number() }) });

const onPath = async (command: string): Promise<boolean> =>
  run('sh', ['-c', `command -v ${command}`]).then(
    () => true,
    () => false,
  );

/** Installs Debian's buildbot and buildbot-worker if missing, the way scripts/services.sh installs PostgreSQL. */
export async function ensureBuildbot(log: (line: string) => void): Promise<void> {
  if ((await onPath('buildbot')) && (await onPath('buildbot-worker'))) return;
  log("buildbot: not installed; installing Debian's buildbot and buildbot-worker (scripts/services.sh ensure_buildbot)");
  try {
    await run('bash', ['-c', 'source scripts/services.sh && ensure_buildbot'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`could not install buildbot (apt-get needs root and Debian's archive): ${err.stderr || err.message}`);
  }
  if (!(await onPath('buildbot')) || !(await onPath('buildbot-worker')))
    throw new Error('buildbot and buildbot-worker are still not on PATH after installing them');
}

async function waitFor<T>(what: string, child: LoggedChild, probe: () => Promise<T | null>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!child.running) throw new Error(`${child.label} exited while waiting for ${what}:\n${child.output()}`);
    const found = await probe().catch(() => null);
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s; ${child.label} said:\n${child.output()}`);
    await sleep(100);
  }
}

export async function startBuildbot(dir: string, size: WorkloadSize): Promise<BenchSystem> {
  const masterDir = path.join(dir, 'master');
  const workerDir = path.join(dir, 'worker');
  fs.mkdirSync(dir, { recursive: true });
  const ports = { www: await freePort(), pb: await freePort() };
  const password = randomBytes(12).toString('hex');
  await run('buildbot', ['create-master', '-q', '-r', masterDir]);
  fs.writeFileSync(path.join(masterDir, 'master.cfg'), masterCfg(builderSteps(size), ports, password));
  await run('buildbot-worker', ['create-worker', '-q', '-r', workerDir, `127.0.0.1:${ports.pb}`, BUILDBOT_WORKER, password]);

  const pythonPath = [writeWwwStandIn(path.join(dir, 'www-stand-in')), process.env.PYTHONPATH].filter(Boolean).join(':');
  const master = new LoggedChild('the Buildbot master', ['buildbot', 'start', '--nodaemon', masterDir], {
    cwd: dir,
    env: { ...process.env, PYTHONPATH: pythonPath },
    logFile: path.join(dir, 'master.out'),
  });
  const url = `http://127.0.0.1:${ports.www}`;
  const api = `${url}/api/v2`;
  let worker: LoggedChild | null = null;
  try {
    await waitFor("the Buildbot master's REST API", master, async () => (await getJson(`${api}/workers`)) ?? null);
    worker = new LoggedChild('the Buildbot worker', ['buildbot-worker', 'start', '--nodaemon', workerDir], {
      cwd: dir,
      env: process.env,
      logFile: path.join(dir, 'worker.out'),
    });
    const w = worker;
    await waitFor('the Buildbot worker to connect', w, async () => {
      const { workers } = workersAnswer.parse(await getJson(`${api}/workers`));
      return workers.some((x) => x.name === BUILDBOT_WORKER && x.connected_to.length > 0) ? true : null;
    });
  } catch (e) {
    await worker?.stop();
    await master.stop();
    throw e;
  }
  const workerChild = worker;

  /** The stdio log's lines of one step, a page of lines at a time, with their one-letter stream prefix. */
  async function* stdioLines(buildid: number, stepName: string): AsyncGenerator<string> {
    const { steps } = stepsAnswer.parse(await getJson(`${api}/builds/${buildid}/steps`));
    const step = steps.find((s) => s.name === stepName);
    if (!step) throw new Error(`Buildbot build ${buildid} has no step "${stepName}" (${steps.map((s) => s.name).join(', ')})`);
    const { logs } = logsAnswer.parse(await getJson(`${api}/steps/${step.stepid}/logs`));
    const log = logs.find((l) => l.slug === 'stdio');
    if (!log) throw new Error(`Buildbot step ${step.stepid} has no stdio log`);
    const page = 50_000;
    for (let offset = 0; offset < log.num_lines; offset += page) {
      const { logchunks } = chunksAnswer.parse(await getJson(`${api}/logs/${log.logid}/contents?offset=${offset}&limit=${page}`));
      for (const chunk of logchunks) {
        const lines = chunk.content.split('\n');
        if (lines[lines.length - 1] === '') lines.pop();
        yield* lines;
      }
    }
  }

  return {
    name: 'Buildbot',
    url,
    masterPid: master.pid,
    async force(builder: BuilderName) {
      const answer = forceAnswer.parse(
        await postJson(`${api}/forceschedulers/${forceSchedulerOf(builder)}`, {
          jsonrpc: '2.0',
          method: 'force',
          id: 1,
          params: { builderNames: [builder], reason: 'bench' },
        }),
      );
      const brid = Object.values(answer.result[1])[0];
      if (brid === undefined) throw new Error(`Buildbot's force of ${builder} made no build request`);
      return brid;
    },
    async requestComplete(brid: number) {
      const { buildrequests } = requestsAnswer.parse(await getJson(`${api}/buildrequests/${brid}`));
      return buildrequests[0]?.complete ?? false;
    },
    async buildOf(brid: number): Promise<FinishedBuild> {
      const { builds } = buildsAnswer.parse(await getJson(`${api}/builds?buildrequestid=${brid}`));
      const build = builds[builds.length - 1];
      if (!build) throw new Error(`Buildbot build request ${brid} has no build`);
      return build;
    },
    // Buildbot's stdio log also holds header lines ("h": argv, environment, exit code) that it writes
    // itself; only the command's stdout ("o") is compared.
    async stepStdout(buildid: number, stepName: string) {
      let out = '';
      for await (const line of stdioLines(buildid, stepName)) if (line.startsWith('o')) out += `${line.slice(1)}\n`;
      return out;
    },
    async stdoutDigest(buildid: number, stepName: string) {
      const h = createHash('sha256');
      let bytes = 0;
      for await (const line of stdioLines(buildid, stepName)) {
        if (!line.startsWith('o')) continue;
        const b = Buffer.from(`${line.slice(1)}\n`);
        bytes += b.length;
        h.update(b);
      }
      return { bytes, sha256: h.digest('hex') };
    },
    async buildCount() {
      return countAnswer.parse(await getJson(`${api}/builds?field=buildid`)).meta.total;
    },
    async stop() {
      await workerChild.stop();
      await master.stop();
    },
    killNow() {
      workerChild.killNow();
      master.killNow();
    },
  };
}
