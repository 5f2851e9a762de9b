/** Forced builds end to end: real master, real agent process, real WebSocket, on SQLite and PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, SetPropertyFromCommand, interpolate, Results, forceScheduler } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import {
  api,
  forceAndWait,
  processesMatching,
  startAgent,
  startTestMaster,
  stepLog,
  waitFor,
  type AgentProcess,
} from '../helpers/harness.ts';
import { getList, getOne, present } from '../helpers/api.ts';

const TOKEN = 'integration-token-1';
// Bytes no text pipeline would keep as they are: invalid UTF-8, NUL, CR, no final newline. The pauses
// fix the order between the two pipes (no system orders writes to separate pipes otherwise).
const TRICKY = "printf 'out 1\\n'; sleep 0.2; printf 'err \\377\\000\\r\\n' >&2; sleep 0.2; printf 'out \\342\\202\\254 end'";
const TRICKY_BYTES = Buffer.concat([
  Buffer.from('out 1\n'),
  Buffer.from([0x65, 0x72, 0x72, 0x20, 0xff, 0x00, 0x0d, 0x0a]),
  Buffer.from('out € end'),
]);

describe.each(testDatabases())('builds on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: TOKEN, maxBuilds: 2 }],
        builders: [
          {
            name: 'hello',
            agents: ['a1'],
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'greet', command: 'echo hello' }))
              .addStep(new ShellCommand({ name: 'list', command: ['ls', '-la'], haltOnFailure: true })),
          },
          {
            name: 'bytes',
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'tricky', command: TRICKY })),
          },
          {
            name: 'halting',
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'ok', command: ['true'] }))
              .addStep(new ShellCommand({ name: 'fails', command: 'echo failing; exit 3', haltOnFailure: true }))
              .addStep(new ShellCommand({ name: 'never', command: ['touch', 'never-ran'] }))
              .addStep(new ShellCommand({ name: 'cleanup', command: ['echo', 'cleaning'], alwaysRun: true })),
          },
          {
            name: 'flags',
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'warn-only', command: 'exit 1', flunkOnFailure: false, warnOnFailure: true }))
              .addStep(new ShellCommand({ name: 'ignored', command: 'exit 1', flunkOnFailure: false }))
              .addStep(new ShellCommand({ name: 'decoded', command: 'exit 7', decodeRC: { 0: Results.SUCCESS, 7: Results.WARNINGS } }))
              .addStep(new ShellCommand({ name: 'skipped', command: 'exit 9', doStepIf: (p) => p.get('run_skipped') === true }))
              .addStep(new ShellCommand({ name: 'after', command: ['true'] })),
          },
          {
            name: 'props',
            properties: { flavour: 'vanilla' },
            factory: new BuildFactory()
              .addStep(new SetPropertyFromCommand({ name: 'getversion', command: 'echo "  4.5.6  "', property: 'version' }))
              .addStep(
                new ShellCommand({
                  name: 'show',
                  command: ['echo', interpolate('%(prop:flavour)s %(prop:branch:-main)s %(prop:version)s #%(prop:buildnumber)s')],
                  env: { GREETING: interpolate('hi %(prop:who:~nobody)s') },
                }),
              )
              .addStep(
                new ShellCommand({
                  name: 'env',
                  command: 'printf "%s" "$GREETING"',
                  env: { GREETING: interpolate('hi %(prop:who:~nobody)s') },
                }),
              ),
          },
          {
            name: 'timeouts',
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'silent', command: 'echo start; sleep 301.5 & sleep 301.6; echo never', timeout: 1 }))
              .addStep(
                new ShellCommand({ name: 'long', command: 'while true; do echo tick; sleep 0.2; done', maxTime: 1.5, alwaysRun: true }),
              ),
          },
          {
            name: 'slow',
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'sleepy', command: 'echo first; sleep 302.5; echo second' }))
              .addStep(new ShellCommand({ name: 'skipped-after-stop', command: ['true'] }))
              .addStep(new ShellCommand({ name: 'report', command: ['echo', 'reported'], alwaysRun: true })),
          },
          {
            name: 'live',
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'drip', command: 'echo early; sleep 2; echo late' })),
          },
          {
            name: 'missing-program',
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'nope', command: ['/nonexistent/program-xyz'] })),
          },
        ],
        schedulers: [
          forceScheduler({
            name: 'force',
            builderNames: ['hello', 'bytes', 'halting', 'flags', 'props', 'timeouts', 'slow', 'live', 'missing-program'],
          }),
        ],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'a1', TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it('runs the minimal config from DESIGN.md to SUCCESS and stores its logs', async () => {
    const { build, steps } = await forceAndWait(master, 'hello', { reason: 'test' });
    expect(build).toMatchObject({
      result: 'success',
      results: 0,
      complete: true,
      number: 1,
      agent: 'a1',
      state_string: 'build successful',
    });
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual([
      ['greet', 'success'],
      ['list', 'success'],
    ]);
    expect((await stepLog(master, steps[0].stepid)).toString()).toBe('hello\n');
    expect((await stepLog(master, steps[1].stepid)).toString()).toMatch(/^total \d+/);
    expect(build.properties.reason).toEqual(['test', 'Scheduler']);
  });

  it('stores stdout and stderr byte for byte', async () => {
    const { build, steps } = await forceAndWait(master, 'bytes');
    expect(build.result).toBe('success');
    expect([...(await stepLog(master, steps[0].stepid))]).toEqual([...TRICKY_BYTES]);
  });

  it('halts on failure, skips later steps, still runs alwaysRun steps', async () => {
    const { build, steps } = await forceAndWait(master, 'halting');
    expect(build).toMatchObject({ result: 'failure', results: Results.FAILURE, state_string: 'failed fails' });
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual([
      ['ok', 'success'],
      ['fails', 'failure'],
      ['cleanup', 'success'],
    ]);
    expect(steps[1].state_string).toBe('exit code 3');
    expect((await stepLog(master, steps[2].stepid)).toString()).toBe('cleaning\n');
  });

  it('applies flunkOnFailure, warnOnFailure, decodeRC and doStepIf', async () => {
    const { build, steps } = await forceAndWait(master, 'flags');
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual([
      ['warn-only', 'failure'],
      ['ignored', 'failure'],
      ['decoded', 'warnings'],
      ['skipped', 'skipped'],
      ['after', 'success'],
    ]);
    expect(build.result).toBe('warnings');
    const forced = await forceAndWait(master, 'flags', { properties: { run_skipped: true } });
    expect(forced.steps[3].result).toBe('failure');
    expect(forced.build.result).toBe('failure');
  });

  it('renders properties from the builder, force, the master and SetPropertyFromCommand', async () => {
    const { build, steps } = await forceAndWait(master, 'props', { properties: { branch: 'release', who: 'ada' } });
    expect(build.result).toBe('success');
    expect(build.properties.version).toEqual(['4.5.6', 'getversion']);
    expect(build.properties.branch).toEqual(['release', 'Scheduler']);
    expect((await stepLog(master, steps[1].stepid)).toString()).toBe(`vanilla release 4.5.6 #${build.number}\n`);
    expect((await stepLog(master, steps[2].stepid)).toString()).toBe('hi ada');
    const plain = await forceAndWait(master, 'props');
    expect((await stepLog(master, plain.steps[1].stepid)).toString()).toBe(`vanilla main 4.5.6 #${plain.build.number}\n`);
    expect((await stepLog(master, plain.steps[2].stepid)).toString()).toBe('hi nobody');
  });

  it('kills a step after timeout (no output) and maxTime (wall), leaving no process behind', async () => {
    const { build, steps } = await forceAndWait(master, 'timeouts');
    expect(build.result).toBe('failure');
    expect(steps[0]).toMatchObject({ name: 'silent', result: 'failure', state_string: 'killed: no output for 1s' });
    expect(steps[1]).toMatchObject({ name: 'long', result: 'failure', state_string: 'killed: ran longer than 1.5s' });
    expect((await stepLog(master, steps[0].stepid)).toString()).toBe('start\n');
    expect((await stepLog(master, steps[1].stepid)).toString()).toMatch(/^(tick\n){3,}$/);
    const duration = steps[1].complete_at - steps[1].started_at;
    expect(duration).toBeGreaterThan(1.4);
    expect(duration).toBeLessThan(6);
    // The group was sent SIGKILL; the kernel may list a killed process for a moment after the step ends.
    await waitFor(
      'the timed-out commands to be gone',
      () => processesMatching('sleep 301.5').length + processesMatching('sleep 301.6').length === 0,
      5000,
    );
  });

  it('stops a running build: process group killed, result CANCELLED', async () => {
    const client = api(master);
    const forced = await client.post('/builders/slow/force', { reason: 'to be stopped' });
    const build = await waitFor(
      'slow build to start',
      async () => (await getList(master, 'builds', `/builds?buildrequestid=${forced.body.buildrequestid}`))[0],
    );
    await waitFor('sleep to run', () => processesMatching('sleep 302.5').length > 0);
    const stop = await client.post(`/builds/${build.buildid}/stop`, { reason: 'enough' });
    expect(stop.status).toBe(202);
    const done = await waitFor('build to finish', async () => {
      const b = await getOne(master, 'builds', `/builds/${build.buildid}`);
      return b.complete ? b : null;
    });
    expect(done).toMatchObject({ result: 'cancelled', results: Results.CANCELLED, state_string: 'cancelled: enough' });
    const steps = await getList(master, 'steps', `/builds/${build.buildid}/steps`);
    // As in Buildbot: the running step is cancelled, later steps are not run, alwaysRun steps are.
    expect(steps.map((s) => [s.name, s.result])).toEqual([
      ['sleepy', 'cancelled'],
      ['report', 'success'],
    ]);
    const [sleepy, report] = steps;
    expect((await stepLog(master, present(report, 'step report').stepid)).toString()).toBe('reported\n');
    expect((await stepLog(master, present(sleepy, 'step sleepy').stepid)).toString()).toBe('first\n');
    await waitFor('sleep to be killed', () => processesMatching('sleep 302.5').length === 0, 10_000);
    const again = await client.post(`/builds/${build.buildid}/stop`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');
  });

  it('streams output into the log while the step runs', async () => {
    const client = api(master);
    const forced = await client.post('/builders/live/force', {});
    const build = await waitFor(
      'live build',
      async () => (await getList(master, 'builds', `/builds?buildrequestid=${forced.body.buildrequestid}`))[0],
    );
    const step = await waitFor('drip step', async () => (await getList(master, 'steps', `/builds/${build.buildid}/steps`))[0]);
    const partial = await waitFor('early output', async () => {
      const text = (await stepLog(master, step.stepid).catch(() => Buffer.alloc(0))).toString();
      return text.length > 0 ? text : null;
    });
    expect(partial).toBe('early\n');
    const midway = await getOne(master, 'steps', `/steps/${step.stepid}`);
    expect(midway.complete).toBe(false);
    const done = await forceAndWaitExisting(forced.body.buildrequestid);
    expect((await stepLog(master, done.stepid)).toString()).toBe('early\nlate\n');

    async function forceAndWaitExisting(id: number) {
      await waitFor('live build to finish', async () => (await getOne(master, 'buildrequests', `/buildrequests/${id}`)).complete);
      return getOne(master, 'steps', `/builds/${build.buildid}/steps`);
    }
  });

  it('fails a step whose program does not exist, with the reason in a log', async () => {
    const { build, steps } = await forceAndWait(master, 'missing-program');
    expect(build.result).toBe('failure');
    expect(steps[0].result).toBe('failure');
    expect(steps[0].state_string).toMatch(/cannot run "\/nonexistent\/program-xyz": .*ENOENT/);
    expect((await stepLog(master, steps[0].stepid, 'err_text')).toString()).toMatch(/ENOENT/);
  });

  it('numbers builds per builder and never repeats a number', async () => {
    const client = api(master);
    const ids = await Promise.all(
      [1, 2, 3].map(async () => (await client.post('/builders/hello/force', {})).body.buildrequestid as number),
    );
    for (const id of ids)
      await waitFor(`request ${id}`, async () => (await getOne(master, 'buildrequests', `/buildrequests/${id}`)).complete);
    const numbers = (await getList(master, 'builds', '/builders/hello/builds?order=number')).map((b) => b.number);
    expect(numbers).toEqual([...Array(numbers.length).keys()].map((i) => i + 1));
  });
});
