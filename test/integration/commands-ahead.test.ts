/**
 * Commands sent ahead (protocol 5): while a plain command runs, the master sends the next step's
 * command to start on the agent the moment it exits 0. Builds must read exactly as if each command
 * were sent after the step before ended: every log exact, a step after a failure run (again) when the
 * build goes on, nothing run after a halt, a stop, a skipped step, and commands rendered with what the
 * step before set. A real master (SQLite) and a real agent process.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, SetPropertyFromCommand, ShellCommand, interpolate, renderer } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, stepLog, waitFor, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'ahead-token-1';
const markers = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-ahead-'));
const marker = (name: string) => path.join(markers, name);

const sh = (name: string, command: string, extra: Record<string, unknown> = {}) => new ShellCommand({ name, command, ...extra });

describe.each(testDatabases().slice(0, 1))('commands sent ahead ($kind)', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;

  const sentAhead = () => internalsOf(master).registry.get('a1')?.handle.session?.sentAhead ?? -1;

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: TOKEN }],
        builders: [
          {
            name: 'chain',
            factory: new BuildFactory()
              .addStep(sh('one', 'echo one'))
              .addStep(new ShellCommand({ name: 'two', command: ['printf', '%s\\n', interpolate('two %(prop:buildername)s')] }))
              .addStep(sh('three', 'printf "three\\nno newline"'))
              .addStep(sh('four', 'echo four >&2')),
          },
          {
            name: 'fails-then-goes-on',
            factory: new BuildFactory().addStep(sh('fail', 'echo a; exit 1')).addStep(sh('after', 'echo b')),
          },
          {
            name: 'halts',
            factory: new BuildFactory()
              .addStep(sh('fail', 'exit 1', { haltOnFailure: true }))
              .addStep(sh('never', `touch ${marker('after-halt')}`)),
          },
          {
            name: 'stopped',
            factory: new BuildFactory()
              .addStep(sh('wait', `trap 'exit 0' TERM; echo ready; sleep 60 & wait`))
              .addStep(sh('never', `touch ${marker('after-stop')}`)),
          },
          {
            name: 'skipped',
            factory: new BuildFactory()
              .addStep(sh('first', 'true'))
              .addStep(sh('not-me', `touch ${marker('skipped-step')}`, { doStepIf: false }))
              .addStep(sh('last', 'echo last')),
          },
          {
            name: 'property',
            factory: new BuildFactory()
              .addStep(new SetPropertyFromCommand({ name: 'get', command: 'echo fresh', property: 'v' }))
              .addStep(new ShellCommand({ name: 'use', command: ['echo', interpolate('%(prop:v:-stale)s')] }))
              .addStep(new ShellCommand({ name: 'clock', command: ['echo', renderer(() => 'rendered-late')] })),
          },
        ],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'a1', TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
    fs.rmSync(markers, { recursive: true, force: true });
  });

  const logsOf = async (steps: { stepid: number }[]) => Promise.all(steps.map(async (s) => (await stepLog(master, s.stepid)).toString()));

  it('sends each next command ahead and stores every log exactly', async () => {
    const before = sentAhead();
    const { build, steps } = await forceAndWait(master, 'chain');
    expect(build.result).toBe('success');
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual([
      ['one', 'success'],
      ['two', 'success'],
      ['three', 'success'],
      ['four', 'success'],
    ]);
    expect(sentAhead() - before).toBe(3);
    expect(await logsOf(steps)).toEqual(['one\n', 'two chain\n', 'three\nno newline', 'four\n']);
  });

  it('runs the next step anew when the step before failed and the build goes on', async () => {
    const before = sentAhead();
    const { build, steps } = await forceAndWait(master, 'fails-then-goes-on');
    expect(build.result).toBe('failure');
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual([
      ['fail', 'failure'],
      ['after', 'success'],
    ]);
    expect(sentAhead() - before).toBe(1); // sent, skipped by the agent, then started again by the master
    expect(await logsOf(steps)).toEqual(['a\n', 'b\n']);
  });

  it('runs nothing after a step that halts the build', async () => {
    const { build, steps } = await forceAndWait(master, 'halts');
    expect(build.result).toBe('failure');
    expect(steps.map((s: { name: string }) => s.name)).toEqual(['fail']);
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.existsSync(marker('after-halt'))).toBe(false);
  });

  it('runs nothing after a stop, even when the stopped command exits 0', async () => {
    const client = api(master);
    const forced = await client.post('/builders/stopped/force', {});
    const brid = forced.body.buildrequestid as number;
    const build = await waitFor('the build to start', async () => (await client.get(`/builds?buildrequestid=${brid}`)).body.builds[0]);
    const step = await waitFor('the first step', async () => (await client.get(`/builds/${build.buildid}/steps`)).body.steps[0]);
    await waitFor('the command to be ready', async () =>
      (await stepLog(master, step.stepid).catch(() => Buffer.alloc(0))).includes('ready'),
    );
    expect((await client.post(`/builds/${build.buildid}/stop`, { reason: 'test' })).status).toBeLessThan(300);
    await waitFor('the build to end', async () => (await client.get(`/buildrequests/${brid}`)).body.buildrequests[0].complete);
    const ended = (await client.get(`/builds/${build.buildid}`)).body.builds[0];
    expect(ended.result).toBe('cancelled');
    const steps = (await client.get(`/builds/${build.buildid}/steps`)).body.steps;
    expect(steps.map((s: { name: string }) => s.name)).toEqual(['wait']);
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.existsSync(marker('after-stop'))).toBe(false);
  });

  it('sends nothing ahead for a step that may be skipped, and runs the step after it', async () => {
    const before = sentAhead();
    const { build, steps } = await forceAndWait(master, 'skipped');
    expect(build.result).toBe('success');
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual([
      ['first', 'success'],
      ['not-me', 'skipped'],
      ['last', 'success'],
    ]);
    expect(sentAhead() - before).toBe(0);
    expect(fs.existsSync(marker('skipped-step'))).toBe(false);
    expect(String(await stepLog(master, steps[2].stepid))).toBe('last\n');
  });

  it('renders a command after the step that set its property, and a renderer function when its step starts', async () => {
    const before = sentAhead();
    const { build, steps } = await forceAndWait(master, 'property');
    expect(build.result).toBe('success');
    expect(String(await stepLog(master, steps[1].stepid))).toBe('fresh\n');
    expect(String(await stepLog(master, steps[2].stepid))).toBe('rendered-late\n');
    // Neither: the property step may change what comes next, and a function is rendered only when its step starts.
    expect(sentAhead() - before).toBe(0);
  });
});
