/**
 * Agent faults, done for real: the agent's connection cut for 5 s mid-step (through a TCP proxy),
 * and an agent killed with SIGKILL mid-step (its command dies with it).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, interpolate } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import {
  CLI,
  api,
  processesMatching,
  startAgent,
  startTestMaster,
  stepLog,
  waitFor,
  waitForRequest,
  type AgentProcess,
} from '../helpers/harness.ts';
import { tcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { internalsOf } from '../../master/testing.ts';
import { alive } from '../helpers/processes.ts';

const LINES = 60;
// One numbered line every 100 ms for 6 s: output keeps coming while the connection is down.
const TICKER = `i=1; while [ $i -le ${LINES} ]; do echo "line $i of ${LINES}"; i=$((i+1)); sleep 0.1; done`;
const EXPECTED = Array.from({ length: LINES }, (_, i) => `line ${i + 1} of ${LINES}\n`).join('');

describe.each(testDatabases())('agent faults on $kind', (db) => {
  let master: RunningMaster | null = null;
  let proxy: TcpProxy | null = null;
  const agents: AgentProcess[] = [];

  afterEach(async () => {
    for (const a of agents.splice(0)) await a.kill('SIGKILL');
    await proxy?.close();
    proxy = null;
    await master?.stop();
    master = null;
  });

  it('survives a 5 s network blip mid-step: the command keeps running, output resumes with no gap or duplicate', async () => {
    master = await startTestMaster(
      {
        protocol: { heartbeatMs: 1000, graceMs: 30_000 },
        agents: [{ name: 'blip', token: 'blip-token-123' }],
        builders: [{ name: 'ticker', factory: new BuildFactory().addStep(new ShellCommand({ name: 'tick', command: TICKER })) }],
      },
      await db.create(),
    );
    proxy = await tcpProxy(master.port);
    const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-blip-'));
    const child = spawn(
      process.execPath,
      [CLI, 'agent', '--master', `ws://127.0.0.1:${proxy.port}/agents`, '--name', 'blip', '--workdir', workdir],
      {
        env: { ...process.env, CALIPER_AGENT_TOKEN: 'blip-token-123' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    agents.push({
      child,
      workdir,
      output: () => out,
      kill: (s = 'SIGTERM') => new Promise((r) => (child.exitCode !== null ? r() : (child.once('exit', () => r()), child.kill(s)))),
    });
    await waitFor('agent', () => (master ? internalsOf(master).registry.isConnected('blip') : false));

    const c = api(master);
    const forced = await c.post('/builders/ticker/force', {});
    const step = await waitFor('first lines stored', async () => {
      const build = (await c.get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0];
      const s = build && (await c.get(`/builds/${build.buildid}/steps`)).body.steps[0];
      const log = s && (await c.get(`/steps/${s.stepid}/logs`)).body.logs[0];
      return log && log.num_lines >= 5 ? s : null;
    });
    proxy.cut(5000);
    await waitFor('the master to see the agent gone', () => !(master ? internalsOf(master).registry.isConnected('blip') : false), 5000);
    // The command is still running on the agent while it is disconnected.
    expect(processesMatching(`of ${LINES}"`).length).toBeGreaterThan(0);
    const done = await waitForRequest(master, forced.body.buildrequestid, 60_000);
    expect(proxy.connections()).toBeGreaterThanOrEqual(2); // it reconnected
    expect(done.build.result).toBe('success');
    expect(done.builds).toHaveLength(1); // not retried: the same build finished
    expect((await stepLog(master, step.stepid)).toString()).toBe(EXPECTED);
    expect(out).toMatch(/resumed 1 command/);
  }, 90_000);

  // Both ways of forking: the spawn helper (perl) is the orphan guard by default; `--spawn node` keeps the shell guard.
  it.each(['helper', 'node'])(
    'ends the step RETRY when the agent (--spawn %s) is killed, and runs the request again on another agent',
    async (spawnMode) => {
      master = await startTestMaster(
        {
          protocol: { heartbeatMs: 500, graceMs: 1500 },
          agents: [
            { name: 'doomed', token: 'doomed-token-1' },
            { name: 'spare', token: 'spare-token-12' },
          ],
          builders: [
            {
              name: 'work',
              factory: new BuildFactory().addStep(
                // Long on doomed, so it is surely still running when the agent is killed; the retry on
                // spare runs the same command, which needs no wait there.
                new ShellCommand({
                  name: 'long',
                  command: interpolate('echo started; sleep 31.7 & [ %(prop:agentname)s = spare ] || sleep 30; echo finished'),
                }),
              ),
            },
          ],
        },
        await db.create(),
      );
      const doomed = await startAgent(master, 'doomed', 'doomed-token-1', ['--spawn', spawnMode]);
      agents.push(doomed);
      const c = api(master);
      const forced = await c.post('/builders/work/force', {});
      const first = await waitFor(
        'the build on doomed',
        async () => (await c.get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0],
      );
      expect(first.agent).toBe('doomed');
      agents.push(await startAgent(master, 'spare', 'spare-token-12'));
      const orphans = await waitFor('the command on doomed', async () => {
        // `sleep 31.7 &` outlives the step's main process; only the group kill ends it.
        const pids = processesMatching('sleep 31.7');
        return pids.length > 0 ? pids : null;
      });
      // Forked by the helper or by the agent itself, as asked.
      // /proc/PID/stat after the command's name: state, ppid, pgrp. The group's id is the step's main
      // process (its shell), whose parent forked it.
      const stat = (pid: number | string) => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      const main = stat(orphans[0] ?? 0)[2];
      const parentExe = fs.readlinkSync(`/proc/${stat(main ?? 0)[1]}/exe`);
      expect(path.basename(parentExe)).toBe(spawnMode === 'helper' ? 'perl' : path.basename(fs.realpathSync(process.execPath)));
      const killedAt = Date.now();
      await doomed.kill('SIGKILL');
      // The agent's orphan guard kills its command's process group as soon as the agent is gone.
      await waitFor("the killed agent's command to die", async () => orphans.every((pid) => !alive(pid)), 2000);
      const retried = await waitFor(
        'the retried build',
        async () => {
          const b = (await c.get(`/builds/${first.buildid}`)).body.builds[0];
          return b.complete ? b : null;
        },
        20_000,
      );
      // Noticed at once (the socket closed) and given up after the 1.5 s grace period.
      expect(Date.now() - killedAt).toBeLessThan(10_000);
      expect(retried).toMatchObject({ result: 'retry', state_string: 'retry: agent lost' });
      const steps = (await c.get(`/builds/${first.buildid}/steps`)).body.steps;
      expect(steps[0]).toMatchObject({ result: 'retry', state_string: 'agent lost' });
      const done = await waitForRequest(master, forced.body.buildrequestid, 30_000);
      expect(done.build).toMatchObject({ agent: 'spare', result: 'success', number: 2 });
      expect((await stepLog(master, done.steps[0].stepid)).toString()).toBe('started\nfinished\n');
      expect((await c.get(`/buildrequests/${forced.body.buildrequestid}`)).body.buildrequests[0]).toMatchObject({
        complete: true,
        result: 'success',
      });
    },
    60_000,
  );
});
