/**
 * Steps that run on the master and step cosmetics (issue 12, item 3), on the unit bench: SetProperty
 * and SetProperties (renderable), hideStepIf, descriptionDone/descriptionSuffix, logEnviron; the
 * master-side process runner (real processes, in a temporary folder); names with spaces in a config.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBuildBench, type BuildBench } from '../helpers/build-fixture.ts';
import { FakeAgentConnection, stdout } from '../helpers/fake-agent.ts';
import { Results } from '../../core/results.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import { SetProperty } from '../../steps/set-property.ts';
import { SetProperties } from '../../steps/set-properties.ts';
import { MasterShellCommand } from '../../steps/master-shell-command.ts';
import { interpolate } from '../../steps/properties/interpolate.ts';
import { startOnMaster } from '../../master/build/master-process.ts';
import type { CommandSpec } from '../../master/agents/agent-connection.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { BuildFactory } from '../../steps/build-factory.ts';
import { trackStepTimes } from '../../metrics/config.ts';
import { issuesOf } from './config-helpers.ts';
import { alive } from '../helpers/processes.ts';

let bench: BuildBench;
beforeAll(async () => {
  bench = await openBuildBench();
});
afterAll(async () => {
  await bench.close();
});

describe('SetProperty and SetProperties', () => {
  it('SetProperty renders its value (inside lists too); the source is the step name; later steps render it', async () => {
    const agent = new FakeAgentConnection();
    const f = await bench.fixture({
      agent,
      properties: { branch: 'dev' },
      steps: [
        new SetProperty({ name: 'set target', property: 'target', value: interpolate('deploy-%(prop:branch)s') }),
        new SetProperty({
          name: 'set list',
          property: 'hosts',
          value: ['a', interpolate('%(prop:branch)s-b'), { n: (p) => String(p.get('branch')) }],
        }),
        new ShellCommand({ name: 'use', command: interpolate('echo %(prop:target)s') }),
      ],
    });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS });
    const props = await f.properties();
    expect(props.target).toEqual(['deploy-dev', 'set target']);
    expect(props.hosts).toEqual([['a', 'dev-b', { n: 'dev' }], 'set list']);
    expect(agent.commands).toEqual(['echo deploy-dev']);
    expect(await f.step('set target')).toMatchObject({ results: Results.SUCCESS, state_string: 'set target' });
  });

  it('SetProperties takes a record of renderables, or a function of the properties returning one', async () => {
    const f = await bench.fixture({
      properties: { version: '1.2' },
      steps: [
        new SetProperties({ name: 'pair', properties: { a: 1, b: interpolate('v%(prop:version)s') } }),
        new SetProperties({
          name: 'computed',
          properties: (p) => ({ major: String(p.get('version')).split('.')[0] ?? '', tag: interpolate('t-%(prop:b)s') }),
        }),
      ],
    });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS });
    const props = await f.properties();
    expect(props.a).toEqual([1, 'pair']);
    expect(props.b).toEqual(['v1.2', 'pair']);
    expect(props.major).toEqual(['1', 'computed']);
    expect(props.tag).toEqual(['t-v1.2', 'computed']);
    expect(await f.step('computed')).toMatchObject({ state_string: 'set major, tag' });
  });

  it('a function that returns something not a record of properties fails the step, saying why', async () => {
    const f = await bench.fixture({ steps: [new SetProperties({ name: 'bad', properties: () => ({ 'not a name': 1 }) })] });
    expect(await f.run()).toMatchObject({ results: Results.FAILURE });
    expect((await f.step('bad')).state_string).toMatch(/^properties: /);
  });

  it('the config check refuses a bad property name and a missing value; knows the properties they provide', () => {
    const bad = issuesOf(() =>
      compileConfig({
        builders: [{ name: 'b', factory: new BuildFactory([new SetProperty({ name: 's', property: '1x', value: 1 })]) }],
      }),
    );
    expect(bad.map((i) => i.path)).toContain('builders[0].factory.steps[0].property');
    expect(new SetProperties({ name: 's', properties: { x: 1, y: 2 } }).providedProperties()).toEqual(['x', 'y']);
    expect(new SetProperty({ name: 's', property: 'z', value: 1 }).providedProperties()).toEqual(['z']);
  });
});

describe('hideStepIf, descriptionDone, descriptionSuffix', () => {
  it('hideStepIf stores the step as hidden: a flag, or a function of its result; a throwing one leaves it shown', async () => {
    const agent = new FakeAgentConnection().on('fails', { exit: 1 });
    const f = await bench.fixture({
      agent,
      steps: [
        new ShellCommand({ name: 'always hidden', command: 'ok', hideStepIf: true }),
        new ShellCommand({ name: 'hidden when ok', command: 'ok', hideStepIf: (r) => r === Results.SUCCESS }),
        new ShellCommand({ name: 'hidden when ok 2', command: 'fails', hideStepIf: (r) => r === Results.SUCCESS, flunkOnFailure: false }),
        new ShellCommand({
          name: 'throws',
          command: 'ok',
          hideStepIf: () => {
            throw new Error('oops');
          },
        }),
        new ShellCommand({ name: 'shown', command: 'ok' }),
      ],
    });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS });
    const hidden = Object.fromEntries((await f.steps()).map((s) => [s.name, Boolean(s.hidden)]));
    expect(hidden).toEqual({ 'always hidden': true, 'hidden when ok': true, 'hidden when ok 2': false, throws: false, shown: false });
  });

  it('descriptionDone replaces the state string on success; descriptionSuffix is appended whatever the result', async () => {
    const agent = new FakeAgentConnection().on('fails', { exit: 2 });
    const f = await bench.fixture({
      agent,
      steps: [
        new ShellCommand({ name: 'compile', command: 'ok', descriptionDone: ['compiled', 'all'], descriptionSuffix: 'x86' }),
        new ShellCommand({ name: 'plain', command: 'ok', descriptionDone: 'built' }),
        new ShellCommand({
          name: 'broken',
          command: 'fails',
          descriptionDone: 'never shown',
          descriptionSuffix: ['(arm)'],
          flunkOnFailure: false,
        }),
      ],
    });
    await f.run();
    expect((await f.step('compile')).state_string).toBe('compiled all x86');
    expect((await f.step('plain')).state_string).toBe('built');
    expect((await f.step('broken')).state_string).toBe('exit code 2 (arm)');
  });
});

describe('logEnviron', () => {
  it('writes the environment the master sends, masked, as header lines at the top of stdio', async () => {
    const agent = new FakeAgentConnection().on('build', { output: [stdout('built\n')] });
    const f = await bench.fixture({
      agent,
      secrets: { token: 's3cret-value' },
      steps: [
        new ShellCommand({
          name: 'build',
          command: 'build',
          logEnviron: true,
          env: { B: '2', A: '1', TOKEN: interpolate('%(secret:token)s') },
        }),
      ],
    });
    expect(await f.run()).toMatchObject({ results: Results.SUCCESS });
    const log = await f.log('build', 'stdio');
    expect(log.chunks[0]).toEqual({ stream: 'h', content: Buffer.from('environment:\n A=1\n B=2\n TOKEN=********\n') });
    expect(log.bytes.toString()).toMatch(/built\n$/);
    expect(log.bytes.toString()).not.toContain('s3cret');
  });

  it('is off by default: the log holds only the output', async () => {
    const agent = new FakeAgentConnection().on('build', { output: [stdout('built\n')] });
    const f = await bench.fixture({ agent, steps: [new ShellCommand({ name: 'build', command: 'build', env: { A: '1' } })] });
    await f.run();
    expect((await f.log('build', 'stdio')).chunks.map((c) => c.stream)).toEqual(['o']);
  });
});

describe('commands on the master (master-process.ts)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-master-steps-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const spec = (more: Partial<CommandSpec>): CommandSpec => ({
    workdir: path.join(dir, 'w'),
    env: {},
    timeout: null,
    maxTime: null,
    ...more,
  });
  const collect = () => {
    const out: string[] = [];
    return { out, sink: { output: async (stream: 'stdout' | 'stderr', d: Buffer) => void out.push(`${stream}:${d.toString()}`) } };
  };

  it('runs in its workdir (made if missing) with the env and PWD, output in order, the exit code back', async () => {
    const { out, sink } = collect();
    const exit = await startOnMaster(spec({ shell: 'echo "$PWD $GREETING $PPID"; echo oops >&2; exit 3', env: { GREETING: 'hi' } }), sink)
      .done;
    expect(exit).toMatchObject({ code: 3, killed: null, lost: false, error: null });
    expect(out.join('')).toContain(`stdout:${path.join(dir, 'w')} hi ${process.pid}\n`);
    expect(out.join('')).toContain('stderr:oops\n');
  });

  it('cancel kills the whole process group, and what it started in the background', async () => {
    const { sink } = collect();
    const pidFile = path.join(dir, 'bg.pid');
    const running = startOnMaster(spec({ shell: `sleep 300 & echo $! > ${pidFile}; wait` }), sink);
    await expect.poll(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '').toBe(true);
    const bg = Number(fs.readFileSync(pidFile, 'utf8'));
    running.cancel();
    expect(await running.done).toMatchObject({ killed: 'cancel', code: null, signal: 'SIGTERM' });
    await expect.poll(() => alive(bg)).toBe(false);
  });

  it('a timeout (no output) kills it; a program that does not exist is an error', async () => {
    const { sink } = collect();
    expect(await startOnMaster(spec({ argv: ['sleep', '30'], timeout: 0.3 }), sink).done).toMatchObject({ killed: 'timeout' });
    const missing = await startOnMaster(spec({ argv: ['no-such-program-caliper'] }), sink).done;
    expect(missing.error).toMatch(/cannot run "no-such-program-caliper"/);
  });

  it('MasterShellCommand refuses a workdir that leaves its folder at the config check', () => {
    const issues = issuesOf(() =>
      compileConfig({
        builders: [{ name: 'b', factory: new BuildFactory([new MasterShellCommand({ name: 'm', command: 'true', workdir: '../x' })]) }],
      }),
    );
    expect(issues.map((i) => i.path)).toContain('builders[0].factory.steps[0].workdir');
  });
});

describe('names with spaces', () => {
  it('builders and steps may have spaces; the agent directory has "_" for them', () => {
    const config = compileConfig({
      builders: [{ name: 'my builder', factory: new BuildFactory([new ShellCommand({ name: 'run tests', command: 'true' })]) }],
      schedulers: [{ type: 'force', name: 'force', builderNames: ['my builder'] }],
    });
    expect(config.builders[0]).toMatchObject({ name: 'my builder', dirname: 'my_builder' });
  });

  it('refuses names that would share a directory, odd spacing, and a default series with a space', () => {
    const step = () => new ShellCommand({ name: 'run tests', command: 'true' });
    const clash = issuesOf(() =>
      compileConfig({
        builders: [
          { name: 'a b', factory: new BuildFactory([step()]) },
          { name: 'a_b', factory: new BuildFactory([step()]) },
        ],
      }),
    );
    expect(clash.map((i) => i.message)).toContain('two builders would share the directory "a_b" on the agent (give one a workdir)');
    const spacing = issuesOf(() => compileConfig({ builders: [{ name: ' a  b', factory: new BuildFactory([step()]) }] }));
    expect(spacing.map((i) => i.path)).toContain('builders[0].name');
    const series = issuesOf(() =>
      compileConfig({ builders: [{ name: 'b', factory: new BuildFactory([step()]), metrics: [trackStepTimes('run tests')] }] }),
    );
    expect(series.map((i) => i.path)).toContain('builders[0].metrics[0].series');
  });
});
