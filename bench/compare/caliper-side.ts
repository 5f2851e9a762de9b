/**
 * Caliper as a BenchSystem: a master child process (`bin/caliper.js start`, SQLite in the run's
 * directory) with a generated master.config.ts built from the same step lists as Buildbot's
 * master.cfg (workload.ts), and one agent child process (`bin/caliper.js agent`) running one build at
 * a time. The config imports 'caliper', so the run's directory lies inside this package (tmp/).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { freePort } from '../soak/processes.ts';
import { startCaliperAgent, startCaliperMaster } from './caliper-processes.ts';
import { getJson, postJson } from './http-json.ts';
import type { BenchSystem, FinishedBuild } from './system.ts';
import { BUILDERS, builderSteps, type BuilderName, type StepSpec, type WorkloadSize } from './workload.ts';

const AGENT = 'bench';

const forceAnswer = z.object({ buildrequestid: z.number() });
const requestsAnswer = z.object({ buildrequests: z.array(z.object({ complete: z.boolean() })) });
const buildsAnswer = z.object({ builds: z.array(z.object({ buildid: z.number(), results: z.number().nullable() })) });
const stepsAnswer = z.object({ steps: z.array(z.object({ stepid: z.number(), name: z.string() })) });
const logsAnswer = z.object({ logs: z.array(z.object({ logid: z.number(), slug: z.string() })) });
const agentsAnswer = z.object({ agents: z.array(z.object({ name: z.string(), connected: z.boolean() })) });
const countAnswer = z.object({ meta: z.object({ total: z.number() }) });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** master.config.ts: one agent of one build at a time, a builder per workload builder. */
export function caliperConfigText(steps: Record<BuilderName, StepSpec[]>, token: string): string {
  const stepsLiteral = JSON.stringify(Object.fromEntries(BUILDERS.map((b) => [b, steps[b]])), null, 1);
  return `// Written by bench/compare for one benchmark run: Caliper's side of the comparison.
import { defineConfig, BuildFactory, ShellCommand } from 'caliper';

const STEPS = ${stepsLiteral};

export default defineConfig({
  title: 'Caliper bench:compare',
  agents: [{ name: ${JSON.stringify(AGENT)}, token: ${JSON.stringify(token)}, maxBuilds: 1 }],
  builders: Object.entries(STEPS).map(([name, specs]) => ({
    name,
    agents: [${JSON.stringify(AGENT)}],
    factory: new BuildFactory(specs.map((s) => new ShellCommand({ name: s.name, command: s.argv }))),
  })),
});
`;
}

export async function startCaliper(dir: string, size: WorkloadSize): Promise<BenchSystem> {
  fs.mkdirSync(dir, { recursive: true });
  const token = randomBytes(16).toString('hex');
  const configFile = path.join(dir, 'master.config.ts');
  fs.writeFileSync(configFile, caliperConfigText(builderSteps(size), token));
  const master = await startCaliperMaster({
    configFile,
    port: await freePort(),
    dbUrl: `sqlite:${path.join(dir, 'caliper.sqlite')}`,
    logFile: path.join(dir, 'master.log'),
  });
  const { url } = master;
  const api = `${url}/api/v2`;
  const agent = startCaliperAgent({
    name: AGENT,
    token,
    masterPort: master.port,
    workdir: path.join(dir, 'agent'),
    logFile: path.join(dir, 'agent.log'),
  });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (!agent.running) throw new Error(`the Caliper agent exited while connecting:\n${agent.output()}`);
      const { agents } = agentsAnswer.parse(await getJson(`${api}/agents`));
      if (agents.some((a) => a.name === AGENT && a.connected)) break;
      if (Date.now() > deadline) throw new Error(`the Caliper agent did not connect within 60 s:\n${agent.output()}`);
      await sleep(50);
    }
  } catch (e) {
    await agent.stop();
    await master.child.stop();
    throw e;
  }

  async function stdioLog(buildid: number, stepName: string): Promise<Response> {
    const { steps } = stepsAnswer.parse(await getJson(`${api}/builds/${buildid}/steps`));
    const step = steps.find((s) => s.name === stepName);
    if (!step) throw new Error(`Caliper build ${buildid} has no step "${stepName}" (${steps.map((s) => s.name).join(', ')})`);
    const { logs } = logsAnswer.parse(await getJson(`${api}/steps/${step.stepid}/logs`));
    const log = logs.find((l) => l.slug === 'stdio');
    if (!log) throw new Error(`Caliper step ${step.stepid} has no stdio log`);
    const res = await fetch(`${api}/logs/${log.logid}/raw`);
    if (!res.ok || !res.body) throw new Error(`GET ${api}/logs/${log.logid}/raw: HTTP ${res.status}`);
    return res;
  }

  return {
    name: 'Caliper',
    url,
    masterPid: master.child.pid,
    async force(builder: BuilderName) {
      return forceAnswer.parse(await postJson(`${api}/builders/${builder}/force`, { reason: 'bench' })).buildrequestid;
    },
    async requestComplete(brid: number) {
      const { buildrequests } = requestsAnswer.parse(await getJson(`${api}/buildrequests/${brid}`));
      return buildrequests[0]?.complete ?? false;
    },
    async buildOf(brid: number): Promise<FinishedBuild> {
      const { builds } = buildsAnswer.parse(await getJson(`${api}/builds?buildrequestid=${brid}`));
      const build = builds[builds.length - 1];
      if (!build) throw new Error(`Caliper build request ${brid} has no build`);
      return build;
    },
    // The stdio log holds stdout and stderr as written; the workload's commands write nothing on stderr.
    async stepStdout(buildid: number, stepName: string) {
      return (await stdioLog(buildid, stepName)).text();
    },
    async stdoutDigest(buildid: number, stepName: string) {
      const res = await stdioLog(buildid, stepName);
      const h = createHash('sha256');
      let bytes = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        h.update(chunk);
      }
      return { bytes, sha256: h.digest('hex') };
    },
    async buildCount() {
      return countAnswer.parse(await getJson(`${api}/builds?limit=1`)).meta.total;
    },
    async stop() {
      await agent.stop();
      await master.child.stop(30_000);
    },
    killNow() {
      agent.killNow();
      master.child.killNow();
    },
  };
}
