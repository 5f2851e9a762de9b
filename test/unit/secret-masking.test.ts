/**
 * A secret printed by a build lands nowhere unmasked: not in step or build state strings, not in the
 * stored properties (names or values), not in metric series names or tags, not in logs. Each test
 * runs real steps on the fake agent and then searches everything the build stored for the secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openBuildBench, type BuildBench } from '../helpers/build-fixture.ts';
import { FakeAgentConnection, stdout } from '../helpers/fake-agent.ts';
import { Results } from '../../core/results.ts';
import { commonStepShape, Step, type CommonStepOptions, type StepOutcome } from '../../steps/step.ts';
import type { StepContext } from '../../steps/step-context.ts';
import { MeasureShellCommand } from '../../steps/measure-shell-command.ts';
import { Lint } from '../../steps/lint.ts';
import { SetPropertyFromCommand } from '../../steps/set-property-from-command.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import { MASK, NAME_MASK, SecretMasker } from '../../master/build/secret-masker.ts';

const SECRET = 'SECRETVALUE';
/** A password as people choose them: JSON would write it escaped (`pa\"ss\\word-1`). */
const QUOTED = 'pa"ss\\word-1';
const secrets = { token: SECRET, password: QUOTED };
const forms = [SECRET, QUOTED, JSON.stringify(QUOTED).slice(1, -1)];

/** Everything the build stored, as one text: build row, steps, logs, series and their points. */
async function everything(bench: BuildBench, buildid: number): Promise<string> {
  const parts: string[] = [];
  const steps = (await bench.repos.steps.query({}, { buildid })).rows;
  parts.push(JSON.stringify(await bench.repos.builds.get(buildid)), JSON.stringify(steps));
  for (const s of steps) {
    for (const log of (await bench.repos.logs.query({}, { stepid: s.id })).rows) {
      parts.push(JSON.stringify(log));
      for await (const c of bench.repos.logs.readChunks(log.id)) parts.push(Buffer.from(c.content).toString());
    }
  }
  await bench.metrics.flush();
  const series = await bench.metrics.listSeries();
  parts.push(JSON.stringify(series));
  for (const s of series)
    parts.push(JSON.stringify(await bench.metrics.points({ series: s.series, tags: {} }, { limit: 1000, offset: 0, order: 'asc' })));
  return parts.join('\n');
}

function expectNoSecret(text: string): void {
  for (const form of forms) expect(text, `"${form}" leaked`).not.toContain(form);
}

interface TellsOptions extends CommonStepOptions {
  /** Called after the step set its state string: what was stored then. */
  stored?: (ctx: StepContext) => Promise<void>;
}

/** A custom step that says the secret everywhere a step can say something. */
class Tells extends Step<TellsOptions> {
  readonly schema: z.ZodType = z.strictObject({ ...commonStepShape, stored: z.custom((v) => typeof v === 'function').optional() });

  async run(ctx: StepContext): Promise<StepOutcome> {
    const secret = ctx.properties.secret('token') ?? '';
    await ctx.setStateString(`checking with ${secret}`);
    await this.options.stored?.(ctx);
    await ctx.captureData(`custom_${secret}`, 7, { tags: { [`k_${secret}`]: `v-${secret}`, plain: secret } });
    return { result: Results.SUCCESS, stateString: `${'x'.repeat(495)}${secret}` };
  }
}

/** A custom step whose exception quotes the secret. */
class Throws extends Step<CommonStepOptions> {
  readonly schema: z.ZodType = z.strictObject(commonStepShape);

  run(ctx: StepContext): Promise<StepOutcome> {
    return Promise.reject(new Error(`could not log in with ${ctx.properties.secret('token') ?? ''}`));
  }
}

let bench: BuildBench;
beforeAll(async () => {
  bench = await openBuildBench();
});
afterAll(async () => {
  await bench.close();
});

describe('SecretMasker', () => {
  it('masks the JSON-escaped form of a secret, and property names as well as values', () => {
    const masker = new SecretMasker([QUOTED, SECRET]);
    expect(masker.maskText(`first line: ${JSON.stringify(`token: ${QUOTED}`)}`)).toBe(`first line: "token: ${MASK}"`);
    expect(masker.maskValue({ [`time_${SECRET}`]: [SECRET, 'step'], plain: [1, 'step'] })).toEqual({
      [`time_${MASK}`]: [MASK, 'step'],
      plain: [1, 'step'],
    });
  });

  it('keeps two names that mask alike apart instead of losing one', () => {
    const masker = new SecretMasker([SECRET, 'OTHERSECRET']);
    const masked = masker.maskValue({ [`a_${SECRET}`]: 1, a_OTHERSECRET: 2 });
    expect(Object.values(masked).sort()).toEqual([1, 2]);
    expectNoSecret(JSON.stringify(masked));
  });

  it('masks a name into a valid name, and a text before cutting it', () => {
    const masker = new SecretMasker([SECRET]);
    expect(masker.maskName(`time_${SECRET}`)).toBe(`time_${NAME_MASK}`);
    expect(masker.maskText(`${'x'.repeat(495)}${SECRET}`, 500)).toBe(`${'x'.repeat(495)}${MASK.slice(0, 5)}`);
  });
});

describe('a secret a build prints lands nowhere unmasked', () => {
  it('MeasureShellCommand: `SECRET=1` and `time_SECRET=3` are masked as property names and series names', async () => {
    const agent = new FakeAgentConnection().on('measure', { output: [stdout(`${SECRET}=1\ntime_${SECRET}=3\n`)] });
    const f = await bench.fixture({ agent, secrets, steps: [new MeasureShellCommand({ name: 'measure', command: 'measure' })] });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.SUCCESS });
    expectNoSecret(await everything(bench, row.id));
    // The values are kept, under masked names; the step's log says a name was masked.
    expect(await f.properties()).toMatchObject({ [MASK]: [1, 'measure'], [`time_${MASK}`]: [3, 'measure'] });
    expect((await bench.metrics.listSeries()).map((s) => s.series)).toContain(`time_${NAME_MASK}`);
    expect((await f.log('measure', 'stdio')).bytes.toString()).toContain(`series name "time_${MASK}" contained a secret`);
  });

  it('MeasureShellCommand: an unparsable line with the secret fails the step without showing it', async () => {
    const agent = new FakeAgentConnection().on('measure', { output: [stdout(`time_${SECRET} 3\n`)] });
    const f = await bench.fixture({ agent, secrets, steps: [new MeasureShellCommand({ name: 'measure', command: 'measure' })] });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.FAILURE });
    expect((await f.step('measure')).state_string).toBe(
      `unparsable output: line 1 is not a number or key=value with a numeric value: "time_${MASK} 3"`,
    );
    expectNoSecret(await everything(bench, row.id));
  });

  it('MeasureShellCommand: an unexpected key named after the secret', async () => {
    const agent = new FakeAgentConnection().on('measure', { output: [stdout(`files=1\n${SECRET}=2\n`)] });
    const f = await bench.fixture({
      agent,
      secrets,
      steps: [new MeasureShellCommand({ name: 'measure', command: 'measure', keys: ['files'] })],
    });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.FAILURE });
    expectNoSecret(await everything(bench, row.id));
  });

  it('Lint: findings and unreadable output that quote the secret (also JSON-escaped)', async () => {
    const agent = new FakeAgentConnection()
      .on('flake8', { output: [stdout(`app.py:1:1: F401 ${SECRET} imported but unused\n${SECRET} is not a finding\n`)], exit: 1 })
      .on('eslint', { output: [stdout(`token: ${QUOTED}\n`)], exit: 1 });
    const f = await bench.fixture({
      agent,
      secrets,
      steps: [
        new Lint({ name: 'flake', command: 'flake8', format: 'flake8' }),
        new Lint({ name: 'eslint', command: 'eslint', format: 'eslint', alwaysRun: true }),
      ],
    });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.FAILURE });
    expect((await f.step('flake')).state_string).toContain(`"${MASK} is not a finding"`);
    expect((await f.step('eslint')).state_string).toContain(`"token: ${MASK}"`);
    expectNoSecret(await everything(bench, row.id));
  });

  it('SetPropertyFromCommand: a value and a name taken from the output', async () => {
    const agent = new FakeAgentConnection().on('whoami', { output: [stdout(`${SECRET}\n`)] });
    const f = await bench.fixture({
      agent,
      secrets,
      steps: [
        new SetPropertyFromCommand({ name: 'value', command: 'whoami', property: 'who' }),
        new SetPropertyFromCommand({ name: 'names', command: 'whoami', extract: (_code, out) => ({ [`user_${out.trim()}`]: out.trim() }) }),
      ],
    });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.SUCCESS });
    expect(await f.properties()).toMatchObject({ who: [MASK, 'value'], [`user_${MASK}`]: [MASK, 'names'] });
    expectNoSecret(await everything(bench, row.id));
  });

  it('a custom step: its state strings (cut after masking), a captured series and its tags', async () => {
    let whileRunning = '';
    const stored = async () => {
      const buildid = f.build.row?.id ?? -1;
      whileRunning = (await bench.repos.steps.query({}, { buildid })).rows[0]?.state_string ?? '';
    };
    const f = await bench.fixture({ secrets, steps: [new Tells({ name: 'tells', stored })] });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.SUCCESS });
    expect(whileRunning).toBe(`checking with ${MASK}`);
    expect((await f.step('tells')).state_string).toBe(`${'x'.repeat(495)}${MASK.slice(0, 5)}`);
    const points = await bench.metrics.points({ series: `custom_${NAME_MASK}`, tags: {} }, { limit: 10, offset: 0, order: 'asc' });
    expect(points.points[0]?.tags).toMatchObject({ [`k_${NAME_MASK}`]: `v-${MASK}`, plain: MASK });
    expectNoSecret(await everything(bench, row.id));
  });

  it('the request properties and the stop reason stored with the build', async () => {
    const f = await bench.fixture({
      secrets,
      properties: { forced: SECRET, [`by_${SECRET}`]: 'x' },
      steps: [new ShellCommand({ name: 'boom', command: 'boom' })],
    });
    f.build.stop(`stopped by ${SECRET}`);
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.CANCELLED, state_string: `cancelled: stopped by ${MASK}` });
    expect(await f.properties()).toMatchObject({ forced: [MASK, 'Scheduler'], [`by_${MASK}`]: ['x', 'Scheduler'] });
    expectNoSecret(await everything(bench, row.id));
  });

  it('an exception that quotes the secret: state string and err.text', async () => {
    const f = await bench.fixture({ secrets, steps: [new Throws({ name: 'login' })] });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.EXCEPTION });
    expect((await f.step('login')).state_string).toBe(`exception: could not log in with ${MASK}`);
    expect((await f.log('login', 'err.text')).bytes.toString()).toContain(`could not log in with ${MASK}`);
    expectNoSecret(await everything(bench, row.id));
  });

  it('a step that cannot run: the agent error with the secret, as state string', async () => {
    const agent = new FakeAgentConnection().on(/^boom/, { error: `${'y'.repeat(295)}${SECRET} not found` });
    const f = await bench.fixture({ agent, secrets, steps: [new ShellCommand({ name: 'boom', command: 'boom' })] });
    const row = await f.run();
    expect(row).toMatchObject({ results: Results.FAILURE });
    expect((await f.step('boom')).state_string).toBe(`${'y'.repeat(295)}${MASK} not found`);
    expectNoSecret(await everything(bench, row.id));
  });
});
