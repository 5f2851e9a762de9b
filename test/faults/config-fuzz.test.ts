/**
 * Property-based fault tests of the config pipeline: valid configs built at random, then broken at
 * random (keys removed, wrong types, unknown keys, bad names, duplicates, dangling references, bad
 * steps, bad db urls). compileConfig must answer every one with a config or a ConfigError whose
 * issues name real places in the input, and a bad config must never half-start a master.
 * Seeded: a failure prints the seed and counterexample; rerun with FC_SEED=<seed> to reproduce.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShellCommand } from '../../index.ts';
import { compileConfig, type CompiledConfig } from '../../master/config/compile.ts';
import { ConfigError, type ConfigIssue } from '../../core/errors/index.ts';
import { startMaster } from '../../master/master.ts';
import { silentLogger } from '../../core/logger.ts';
import { isSafeRelativePath } from '../../protocol/safe-path.ts';
import { isStep, type Step } from '../../steps/step.ts';
import {
  type BaseSpec,
  type Mutation,
  apply,
  badNameArb,
  baseSpecArb,
  build,
  identArb,
  mutationArb,
  nameArb,
} from '../helpers/config-mutations.ts';

const SEED = Number(process.env.FC_SEED ?? 424242);
const PATH_RE = /^[A-Za-z_][A-Za-z0-9_]*(\[\d+\]|\.[A-Za-z_][A-Za-z0-9_]*|\["(?:[^"\\]|\\.)*"\])*$/;
/** A compile is a pure function of a small object: anything near this is a runaway regex or loop. */
const MAX_COMPILE_MS = 2000;

// ---------------------------------------------------------------------------------------------
// Checking an outcome
// ---------------------------------------------------------------------------------------------

type Outcome = { ok: true; config: CompiledConfig } | { ok: false; issues: ConfigIssue[] };

/** compileConfig's answer; anything but a config or a ConfigError fails the property. */
function compile(input: unknown): Outcome {
  const started = performance.now();
  try {
    return { ok: true, config: compileConfig(input) };
  } catch (e) {
    if (!(e instanceof ConfigError))
      throw new Error(`compileConfig threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? String(e)}`);
    return { ok: false, issues: e.issues };
  } finally {
    const ms = performance.now() - started;
    if (ms > MAX_COMPILE_MS) throw new Error(`compileConfig took ${ms.toFixed(0)} ms`);
  }
}

/** 'builders[2].factory' -> ['builders', 2, 'factory'] (lenient about key characters, for resolving). */
function segments(p: string): (string | number)[] {
  return [...p.matchAll(/\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([^.[\]]+)/g)].map((m) =>
    m[1] !== undefined ? Number(m[1]) : m[2] !== undefined ? (JSON.parse(m[2]) as string) : (m[3] as string),
  );
}

/** The value a user would find at `path` (a step's keys are its options); throws if a prefix does not exist. */
function resolve(input: unknown, p: string, allowMissingLast = true): unknown {
  const segs = segments(p);
  let cur = input;
  segs.forEach((seg, i) => {
    if (isStep(cur)) cur = cur.options;
    const last = i === segs.length - 1;
    const has = typeof cur === 'object' && cur !== null && Object.prototype.hasOwnProperty.call(cur, seg);
    if (!has) {
      if (last && allowMissingLast) {
        cur = undefined;
        return;
      }
      throw new Error(`issue path "${p}": "${segs.slice(0, i + 1).join('/')}" does not exist in the input`);
    }
    cur = (cur as Record<string | number, unknown>)[seg];
  });
  return cur;
}

function checkIssues(input: unknown, issues: ConfigIssue[]): void {
  expect(issues.length).toBeGreaterThan(0);
  for (const issue of issues) {
    expect(typeof issue.message).toBe('string');
    expect(issue.message.trim().length, JSON.stringify(issue)).toBeGreaterThan(0);
    if (issue.path === '') continue;
    // Record keys are written as the config spells them (`…decodeRC["0"]`), so every path resolves.
    expect(issue.path).toMatch(PATH_RE);
    const value = resolve(input, issue.path);
    // A dangling reference must point at the very name it complains about.
    const named = /^no (?:agent|builder) named "(.*)"/s.exec(issue.message);
    if (named) {
      expect({ path: issue.path, value }).toEqual({ path: issue.path, value: named[1] });
    }
  }
}

function checkCompiled(config: CompiledConfig): void {
  expect(config.builders.length).toBeGreaterThan(0);
  for (const b of config.builders) {
    expect(b.steps.length, b.name).toBeGreaterThan(0);
    expect(b.steps.every(isStep), b.name).toBe(true);
  }
}

const baseWithMutations = fc.tuple(baseSpecArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }));

function mutated(spec: BaseSpec, mutations: Mutation[]): unknown {
  const box = { config: build(spec) as unknown };
  for (const m of mutations) apply(box, m);
  return box.config;
}

// ---------------------------------------------------------------------------------------------
// Known-invalid mutations and where their issue must point
// ---------------------------------------------------------------------------------------------

interface Params {
  i: number;
  j: number;
  key: string;
  badName: string;
  value: unknown;
}
interface KnownInvalid {
  what: string;
  /** Breaks the config; returns the path and message the issue must have. */
  apply(config: Record<string, unknown>, p: Params): { path: string; message: RegExp };
}
type AnyBuilder = { name: string; agents?: unknown; workdir?: unknown; factory: { steps: Step[] } } & Record<string, unknown>;
const buildersOf = (c: Record<string, unknown>) => c.builders as AnyBuilder[];
const TOP_KEYS = new Set(['title', 'web', 'db', 'protocol', 'agents', 'builders', 'schedulers', 'services', 'metrics']);

const knownInvalid: KnownInvalid[] = [
  { what: 'unknown top-level key', apply: (c, p) => ((c[p.key] = p.value), { path: '', message: new RegExp(`unknown key "${p.key}"`) }) },
  { what: 'builders removed', apply: (c) => (delete c.builders, { path: 'builders', message: /./ }) },
  { what: 'builders empty', apply: (c) => ((c.builders = []), { path: 'builders', message: /at least one builder/ }) },
  { what: 'builders an object', apply: (c) => ((c.builders = { b: 1 }), { path: 'builders', message: /expected array/ }) },
  {
    what: 'bad builder name',
    apply: (c, p) => {
      const i = p.i % buildersOf(c).length;
      (buildersOf(c)[i] as AnyBuilder).name = p.badName;
      return { path: `builders[${i}].name`, message: /./ };
    },
  },
  {
    what: 'unknown builder key',
    apply: (c, p) => {
      const i = p.i % buildersOf(c).length;
      (buildersOf(c)[i] as AnyBuilder)[`x_${p.key}`] = p.value;
      return { path: `builders[${i}]`, message: new RegExp(`unknown key "x_${p.key}"`) };
    },
  },
  {
    what: 'builder on an unknown agent',
    apply: (c, p) => {
      const i = p.i % buildersOf(c).length;
      (buildersOf(c)[i] as AnyBuilder).agents = [`ghost-${p.key}`];
      return { path: `builders[${i}].agents[0]`, message: new RegExp(`no agent named "ghost-${p.key}"`) };
    },
  },
  {
    what: 'factory not a BuildFactory',
    apply: (c, p) => {
      const i = p.i % buildersOf(c).length;
      (buildersOf(c)[i] as AnyBuilder).factory = p.value as never;
      return { path: `builders[${i}].factory`, message: /BuildFactory/ };
    },
  },
  ...(['', [], 42, null, { argv: ['x'] }] as unknown[]).map<KnownInvalid>((command) => ({
    what: `step command ${JSON.stringify(command)}`,
    apply: (c, p) => {
      const i = p.i % buildersOf(c).length;
      const steps = (buildersOf(c)[i] as AnyBuilder).factory.steps;
      const j = p.j % steps.length;
      steps[j] = new ShellCommand({ name: (steps[j] as Step).name, command } as never);
      return { path: `builders[${i}].factory.steps[${j}].command`, message: /./ };
    },
  })),
  {
    what: 'negative step timeout',
    apply: (c, p) => {
      const i = p.i % buildersOf(c).length;
      const steps = (buildersOf(c)[i] as AnyBuilder).factory.steps;
      const j = p.j % steps.length;
      steps[j] = new ShellCommand({ name: (steps[j] as Step).name, command: 'true', timeout: -1 - (p.j % 100) });
      return { path: `builders[${i}].factory.steps[${j}].timeout`, message: /./ };
    },
  },
  {
    what: 'step that is not a Step',
    apply: (c, p) => {
      const i = p.i % buildersOf(c).length;
      const steps = (buildersOf(c)[i] as AnyBuilder).factory.steps;
      const j = p.j % steps.length;
      (steps as unknown[])[j] = { name: 's', command: 'true' };
      return { path: `builders[${i}].factory.steps[${j}]`, message: /must be a step/ };
    },
  },
  {
    what: 'duplicate builder',
    apply: (c, p) => {
      const b = buildersOf(c)[p.i % buildersOf(c).length] as AnyBuilder;
      buildersOf(c).push({ ...b });
      return { path: 'builders', message: new RegExp(`builder "${b.name.replace(/[.]/g, '\\.')}" is defined twice`) };
    },
  },
  {
    what: 'duplicate step name',
    apply: (c, p) => {
      const i = p.i % buildersOf(c).length;
      const steps = (buildersOf(c)[i] as AnyBuilder).factory.steps;
      steps.push(new ShellCommand({ name: (steps[p.j % steps.length] as Step).name, command: 'true' }));
      return { path: `builders[${i}].factory.steps`, message: /is used twice/ };
    },
  },
  { what: 'bad db url', apply: (c, p) => ((c.db = { url: `mysql://${p.key}` }), { path: 'db.url', message: /sqlite:PATH/ }) },
  { what: 'db url a number', apply: (c) => ((c.db = { url: 5432 }), { path: 'db.url', message: /expected string/ }) },
  {
    what: 'short agent token',
    apply: (c, p) => {
      const agents = c.agents as { token: string }[];
      const k = p.i % agents.length;
      (agents[k] as { token: string }).token = 'short';
      return { path: `agents[${k}].token`, message: /at least 8/ };
    },
  },
  { what: 'negative port', apply: (c, p) => ((c.web = { port: -1 - p.i }), { path: 'web.port', message: /./ }) },
  { what: 'port too big', apply: (c, p) => ((c.web = { port: 65536 + p.i }), { path: 'web.port', message: /./ }) },
  {
    what: 'heartbeat too short',
    apply: (c, p) => ((c.protocol = { heartbeatMs: 99 - (p.i % 200) }), { path: 'protocol.heartbeatMs', message: /./ }),
  },
  {
    what: 'unknown key in web',
    apply: (c, p) => ((c.web = { [p.key]: 1 }), { path: 'web', message: new RegExp(`unknown key "${p.key}"`) }),
  },
  { what: 'agents an object', apply: (c) => ((c.agents = { a1: { token: 'xxxxxxxxxx' } }), { path: 'agents', message: /expected array/ }) },
  {
    what: 'scheduler on an unknown builder',
    apply: (c, p) => {
      c.schedulers = [{ type: 'force', name: 'f', builderNames: [`ghost-${p.key}`] }];
      return { path: 'schedulers[0].builderNames[0]', message: new RegExp(`no builder named "ghost-${p.key}"`) };
    },
  },
  {
    what: 'workdir with a slash',
    apply: (c, p) => {
      const i = p.i % buildersOf(c).length;
      (buildersOf(c)[i] as AnyBuilder).workdir = `a/${p.key}`;
      return { path: `builders[${i}].workdir`, message: /single directory/ };
    },
  },
];

const paramsArb: fc.Arbitrary<Params> = fc.record({
  i: fc.nat({ max: 50 }),
  j: fc.nat({ max: 50 }),
  key: identArb.filter((k) => !TOP_KEYS.has(k)),
  badName: badNameArb,
  value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(null)),
});
const knownInvalidArb = fc.tuple(baseSpecArb, fc.constantFrom(...knownInvalid.keys()), paramsArb);

// ---------------------------------------------------------------------------------------------

describe('compileConfig under random mutations', () => {
  it('(d) compiles every unmutated base config, as written', () => {
    fc.assert(
      fc.property(baseSpecArb, (spec) => {
        const outcome = compile(build(spec));
        if (!outcome.ok) throw new Error(`valid base rejected: ${JSON.stringify(outcome.issues)}`);
        checkCompiled(outcome.config);
        expect(outcome.config.builders.map((b) => b.name)).toEqual(spec.builders.map((b) => b.name));
        expect(outcome.config.builders.map((b) => b.steps.map((s) => s.name))).toEqual(
          spec.builders.map((b) => b.steps.map((s) => s.name)),
        );
        expect(outcome.config.agents.map((a) => a.name)).toEqual(spec.agents.map((a) => a.name));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it('(a, b) answers every mutated config with a config or a ConfigError whose issues point into the input', () => {
    let rejected = 0;
    fc.assert(
      fc.property(baseWithMutations, ([spec, mutations]) => {
        const input = mutated(spec, mutations);
        const outcome = compile(input);
        if (outcome.ok) checkCompiled(outcome.config);
        else {
          rejected++;
          checkIssues(input, outcome.issues);
        }
      }),
      { seed: SEED, numRuns: 1000 },
    );
    // The mutations are meant to break configs: a generator that stopped doing so would test nothing.
    expect(rejected).toBeGreaterThan(500);
  });

  it('(c) rejects each known-invalid mutation with an issue at the place it broke', () => {
    fc.assert(
      fc.property(knownInvalidArb, ([spec, index, params]) => {
        const input = build(spec);
        const kase = knownInvalid[index] as KnownInvalid;
        const expected = kase.apply(input, params);
        const outcome = compile(input);
        if (outcome.ok) throw new Error(`${kase.what}: compiled`);
        checkIssues(input, outcome.issues);
        const hit = outcome.issues.some((i) => i.path === expected.path && expected.message.test(i.message));
        expect(hit, `${kase.what}: want ${expected.path} ${String(expected.message)}, got ${JSON.stringify(outcome.issues)}`).toBe(true);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('compiles the same input to the same answer twice', () => {
    fc.assert(
      fc.property(baseWithMutations, ([spec, mutations]) => {
        const input = mutated(spec, mutations);
        const a = compile(input);
        const b = compile(input);
        expect(b.ok).toBe(a.ok);
        if (!a.ok && !b.ok) expect(b.issues).toEqual(a.issues);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  // Once a bug: "." and ".." passed the name check, so a builder named ".." had dirname ".." and every
  // command went out with workdir "../build" (master/build/step-runtime.ts), a `run` frame the agent
  // refuses; the agent reconnected every 500 ms and the build was retried forever (RETRY "agent lost").
  it('every compiled builder works in a directory the agent protocol accepts', () => {
    const dirNameArb = fc.oneof(nameArb, fc.constantFrom('.', '..'));
    fc.assert(
      fc.property(baseSpecArb, fc.nat(), dirNameArb, fc.boolean(), (spec, i, dir, asWorkdir) => {
        const input = build(spec);
        const builder = buildersOf(input)[i % buildersOf(input).length] as AnyBuilder;
        if (asWorkdir) builder.workdir = dir;
        else if (!buildersOf(input).some((b) => b.name === dir)) {
          for (const s of (input.schedulers as { builderNames: string[] }[]) ?? [])
            s.builderNames = s.builderNames.map((n) => (n === builder.name ? dir : n));
          builder.name = dir;
        }
        const outcome = compile(input);
        if (dir === '.' || dir === '..') {
          const at = `builders[${buildersOf(input).indexOf(builder)}].${asWorkdir ? 'workdir' : 'name'}`;
          expect(outcome.ok ? [] : outcome.issues.map((x) => x.path)).toContain(at);
        }
        if (!outcome.ok) return;
        for (const b of outcome.config.builders) expect(isSafeRelativePath(`${b.dirname}/build`), b.dirname).toBe(true);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });
});

describe('compileConfig: inputs that once crashed it or misreported', () => {
  // A step made without options is reported, not a TypeError.
  it('a step without options is a ConfigError, not a TypeError', () => {
    fc.assert(
      fc.property(baseSpecArb, fc.nat(), fc.nat(), fc.constantFrom(undefined, null), (spec, i, j, options) => {
        const input = build(spec);
        const builder = buildersOf(input)[i % buildersOf(input).length] as AnyBuilder;
        const steps = builder.factory.steps;
        const k = j % steps.length;
        steps[k] = new ShellCommand(options as never);
        const outcome = compile(input);
        expect(outcome.ok).toBe(false);
      }),
      { seed: SEED, numRuns: 50 },
    );
  });

  // A BuildFactory whose steps are not an array is refused (a string used to compile).
  it('a BuildFactory whose steps are not an array is a ConfigError', () => {
    fc.assert(
      fc.property(
        baseSpecArb,
        fc.nat(),
        fc.oneof(fc.constant(null), fc.integer(), fc.string(), fc.constant({}), fc.constant(undefined)),
        (spec, i, steps) => {
          const input = build(spec);
          const builder = buildersOf(input)[i % buildersOf(input).length] as AnyBuilder;
          (builder.factory as { steps: unknown }).steps = steps;
          const outcome = compile(input);
          expect(outcome.ok).toBe(false);
        },
      ),
      { seed: SEED, numRuns: 50 },
    );
  });

  // A dangling reference is reported at its own index, whatever else the list holds.
  it('a dangling reference is reported at its own index', () => {
    fc.assert(
      fc.property(
        baseSpecArb,
        fc.nat(),
        fc.array(fc.oneof(fc.integer(), fc.constant(null), fc.constant({})), { minLength: 1, maxLength: 3 }),
        (spec, i, junk) => {
          const input = build(spec);
          const k = i % buildersOf(input).length;
          (buildersOf(input)[k] as AnyBuilder).agents = [...junk, 'ghost'];
          const outcome = compile(input);
          if (outcome.ok) throw new Error('compiled');
          const issue = outcome.issues.find((x) => x.message.includes('no agent named "ghost"'));
          expect(issue?.path).toBe(`builders[${k}].agents[${junk.length}]`);
        },
      ),
      { seed: SEED, numRuns: 30 },
    );
  });

  // Paths into records are written as the config spells them.
  it('issue paths into records are written as the config spells them', () => {
    fc.assert(
      fc.property(
        baseSpecArb,
        fc.oneof(fc.integer({ min: 0, max: 255 }).map(String), fc.string({ maxLength: 8 })),
        fc.boolean(),
        (spec, key, inDecodeRC) => {
          const input = build(spec);
          const builder = buildersOf(input)[0] as AnyBuilder;
          if (inDecodeRC)
            builder.factory.steps[0] = new ShellCommand({ name: 's', command: 'true', decodeRC: { [key]: 'bogus' } } as never);
          else builder.properties = { [key]: 10n }; // neither JSON nor a renderable
          const outcome = compile(input);
          if (outcome.ok) throw new Error('compiled');
          for (const issue of outcome.issues) if (issue.path !== '') expect(issue.path).toMatch(PATH_RE);
        },
      ),
      { seed: SEED, numRuns: 30 },
    );
  });
});

describe('a bad config never half-starts a master', () => {
  /** As the CLI does: compile, then start on the config's own db.url. */
  const startFromConfig = async (input: unknown, basedir: string) =>
    startMaster(compileConfig(input), { port: 0, host: '127.0.0.1', basedir, log: silentLogger, name: `fuzz-${process.pid}` });

  it('throws ConfigError before any database file is created', async () => {
    const noDbCases = knownInvalid
      .map((k, i) => [k, i] as const)
      .filter(([k]) => !k.what.startsWith('db url') && k.what !== 'bad db url')
      .map(([, i]) => i);
    await fc.assert(
      fc.asyncProperty(baseSpecArb, fc.constantFrom(...noDbCases), paramsArb, async (spec, index, params) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-cfgfuzz-'));
        try {
          const file = path.join(dir, 'caliper.sqlite');
          const input = build(spec);
          (knownInvalid[index] as KnownInvalid).apply(input, params);
          input.db = { url: `sqlite:${file}` };
          await expect(startFromConfig(input, dir)).rejects.toBeInstanceOf(ConfigError);
          expect(fs.existsSync(file)).toBe(false);
          expect(fs.readdirSync(dir)).toEqual([]);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { seed: SEED, numRuns: 15 },
    );
  });

  it('(control) the same path does get a database from a valid config', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-cfgfuzz-'));
    const file = path.join(dir, 'caliper.sqlite');
    const [spec] = fc.sample(baseSpecArb, { seed: SEED, numRuns: 1 });
    const input = build(spec as BaseSpec);
    input.db = { url: `sqlite:${file}` };
    const master = await startFromConfig(input, dir);
    try {
      expect(fs.existsSync(file)).toBe(true);
    } finally {
      await master.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
