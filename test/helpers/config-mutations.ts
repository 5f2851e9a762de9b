/**
 * The model the config fuzz tests mutate: valid base configs built from a spec, the places
 * ("slots") a mutation can reach, and the mutations themselves.
 */
import fc from 'fast-check';
import { BuildFactory, Results, SetPropertyFromCommand, ShellCommand, trackProperties, trackStepTimes } from '../../index.ts';
import { isStep, type Step } from '../../steps/step.ts';
import { isBuildFactory } from '../../steps/build-factory.ts';

// ---------------------------------------------------------------------------------------------
// Valid base configs
// ---------------------------------------------------------------------------------------------

// "." and ".." are refused as names (they name directories on the agent): left out of valid names.
export const nameArb = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,15}$/);
export const stepNameArb = fc.stringMatching(/^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,15}$/);
export const identArb = fc.stringMatching(/^[a-z][A-Za-z0-9_]{0,12}$/);
export const badNameArb = fc.constantFrom(
  '',
  '.',
  '..',
  ' two  spaces ',
  'x'.repeat(500),
  'tab\there',
  'slash/name',
  'ünïcode',
  'semi;colon',
  '\u0000',
);

export interface StepSpec {
  name: string;
  command: string | string[];
  timeout: number | null | undefined;
  setsProperty: boolean;
}
export interface BuilderSpec {
  name: string;
  agents: string[] | undefined;
  steps: StepSpec[];
  track: boolean;
}
export interface BaseSpec {
  title: string | undefined;
  agents: { name: string; token: string; labels: string[] }[];
  builders: BuilderSpec[];
  scheduler: 'none' | 'force' | 'periodic';
  dbUrl: string;
}

export const stepsArb = fc.uniqueArray(stepNameArb, { minLength: 1, maxLength: 3 }).chain((names) =>
  fc.tuple(
    ...names.map((name) =>
      fc.record({
        name: fc.constant(name),
        command: fc.oneof(
          fc.string({ minLength: 1, maxLength: 30 }),
          fc.array(fc.string({ maxLength: 10 }), { minLength: 1, maxLength: 4 }),
        ),
        timeout: fc.oneof(fc.constant(undefined), fc.constant(null), fc.integer({ min: 1, max: 100_000 })),
        setsProperty: fc.boolean(),
      }),
    ),
  ),
);

export const baseSpecArb: fc.Arbitrary<BaseSpec> = fc
  .record({
    title: fc.option(fc.string({ maxLength: 50 }), { nil: undefined }),
    agents: fc.uniqueArray(nameArb, { minLength: 1, maxLength: 3 }).chain((names) =>
      fc.tuple(
        ...names.map((name) =>
          fc.record({
            name: fc.constant(name),
            token: fc.string({ minLength: 8, maxLength: 40 }),
            labels: fc.array(identArb, { maxLength: 2 }),
          }),
        ),
      ),
    ),
    builderNames: fc.uniqueArray(nameArb, { minLength: 1, maxLength: 3 }),
    scheduler: fc.constantFrom('none' as const, 'force' as const, 'periodic' as const),
    dbUrl: fc.constantFrom(
      'sqlite::memory:',
      'sqlite:.caliper/x.sqlite',
      'postgres://u:p@localhost:5432/caliper',
      'postgresql://db/caliper',
    ),
  })
  .chain(({ builderNames, agents, ...rest }) =>
    fc
      .tuple(
        ...builderNames.map((name) =>
          fc.record({
            name: fc.constant(name),
            agents: fc.option(
              fc.subarray(
                agents.map((a) => a.name),
                { minLength: 1 },
              ),
              { nil: undefined },
            ),
            steps: stepsArb,
            track: fc.boolean(),
          }),
        ),
      )
      .map((builders) => ({ ...rest, agents, builders })),
  );

export function makeStep(s: StepSpec): Step {
  const common = { name: s.name, command: s.command, ...(s.timeout !== undefined ? { timeout: s.timeout } : {}) };
  if (s.setsProperty) return new SetPropertyFromCommand({ ...common, property: `p_${s.name.replace(/[^A-Za-z0-9_]/g, '_')}` });
  return new ShellCommand({ ...common, env: { CI: '1' }, decodeRC: { 0: Results.SUCCESS, 1: Results.WARNINGS } });
}

/** A fresh config object (mutations change it in place). */
export function build(spec: BaseSpec): Record<string, unknown> {
  const builders = spec.builders.map((b) => {
    const steps = b.steps.map(makeStep);
    const setter = steps.find((s) => s instanceof SetPropertyFromCommand) as SetPropertyFromCommand | undefined;
    const metrics = b.track
      ? [trackStepTimes(b.steps[0]?.name ?? ''), ...(setter?.options.property ? [trackProperties(setter.options.property)] : [])]
      : [];
    return {
      name: b.name,
      ...(b.agents ? { agents: [...b.agents] } : {}),
      factory: new BuildFactory(steps),
      properties: { owner: 'fuzz', n: 1 },
      metrics,
    };
  });
  const names = spec.builders.map((b) => b.name);
  const schedulers =
    spec.scheduler === 'none'
      ? []
      : spec.scheduler === 'force'
        ? [{ type: 'force', name: 'force', builderNames: names }]
        : [{ type: 'periodic', name: 'nightly', builderNames: names, periodicBuildTimer: 3600 }];
  return {
    ...(spec.title !== undefined ? { title: spec.title } : {}),
    web: { port: 0, host: '127.0.0.1' },
    db: { url: spec.dbUrl },
    protocol: { heartbeatMs: 1000 },
    agents: spec.agents.map((a) => ({ ...a, labels: [...a.labels] })),
    builders,
    schedulers,
  };
}

// ---------------------------------------------------------------------------------------------
// Random mutations, applied to whatever is found in the config tree
// ---------------------------------------------------------------------------------------------

export type Holder = Record<PropertyKey, unknown> | unknown[];
export interface Slot {
  holder: Holder;
  key: string | number;
  value: unknown;
}

export const isPlain = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every value in the tree, with where it sits. Steps are entered through their options (what the user wrote). */
export function slots(box: { config: unknown }): Slot[] {
  const out: Slot[] = [{ holder: box as Holder, key: 'config', value: box.config }];
  const seen = new Set<unknown>();
  const walk = (v: unknown, depth: number) => {
    if (depth > 8 || typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    let entries: [string | number, unknown][] = [];
    if (Array.isArray(v)) entries = v.map((x, i) => [i, x]);
    else if (isStep(v)) entries = [['options', v.options]];
    else if (isBuildFactory(v)) entries = [['steps', v.steps]];
    else if (isPlain(v)) entries = Object.entries(v);
    for (const [key, value] of entries) {
      out.push({ holder: v as Holder, key, value });
      walk(value, depth + 1);
    }
  };
  walk(box.config, 0);
  return out;
}

export type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'unknownKey'; at: number; key: string; value: unknown }
  | { kind: 'badName'; at: number; value: string }
  | { kind: 'duplicate'; at: number; pick: number }
  | { kind: 'unknownAgent'; at: number; value: string }
  | { kind: 'badStep'; at: number; options: Record<string, unknown> }
  | { kind: 'badDbUrl'; value: unknown }
  | { kind: 'negative'; at: number; value: number };

export const wrongValueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom('', ' ', 'x'.repeat(500), 'sqlite:', 'mysql://x', -1, Number.MAX_SAFE_INTEGER, Infinity, NaN),
  fc.constant(() => 'fn'),
);
export const atArb = fc.nat({ max: 10_000 });
export const badStepOptionsArb = fc.record(
  {
    name: fc.oneof(stepNameArb, badNameArb),
    command: fc.oneof(fc.constantFrom('', [], 42, null, {}, [1, 2], true), fc.string({ maxLength: 10 })),
    timeout: fc.oneof(fc.integer({ max: 0 }), fc.double(), fc.constant('10')),
    workdir: fc.constantFrom('/abs', '../up', 'a\\b', '', 'ok/dir', 'a/../../b'),
    env: fc.constantFrom({ 'BAD KEY': 'x' }, { OK: 5 }, { OK: 'v' }, []),
    colour: fc.constant('red'),
  },
  { requiredKeys: ['name'] },
);

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: atArb }),
  fc.record({ kind: fc.constant('replace' as const), at: atArb, value: wrongValueArb }),
  fc.record({
    kind: fc.constant('unknownKey' as const),
    at: atArb,
    key: fc.oneof(identArb, fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'toString')),
    value: wrongValueArb,
  }),
  fc.record({ kind: fc.constant('badName' as const), at: atArb, value: badNameArb }),
  fc.record({ kind: fc.constant('duplicate' as const), at: atArb, pick: atArb }),
  fc.record({ kind: fc.constant('unknownAgent' as const), at: atArb, value: fc.oneof(nameArb, badNameArb) }),
  fc.record({ kind: fc.constant('badStep' as const), at: atArb, options: badStepOptionsArb }),
  fc.record({
    kind: fc.constant('badDbUrl' as const),
    value: fc.oneof(fc.constantFrom('', 'mysql://x', 'sqlite', 'postgres:/x', 'http://db', ' sqlite:x'), wrongValueArb),
  }),
  fc.record({
    kind: fc.constant('negative' as const),
    at: atArb,
    value: fc.oneof(fc.integer({ max: -1 }), fc.constant(-Infinity), fc.double({ max: -Number.MIN_VALUE, noNaN: true })),
  }),
);

export function setSlot(s: Slot, value: unknown): void {
  // defineProperty so that "__proto__" becomes an own key, as in JSON.parse output.
  Object.defineProperty(s.holder, s.key, { value, enumerable: true, configurable: true, writable: true });
}

export function pick<T>(list: T[], at: number): T | undefined {
  return list.length === 0 ? undefined : list[at % list.length];
}

export function apply(box: { config: unknown }, m: Mutation): void {
  const all = slots(box);
  switch (m.kind) {
    case 'delete': {
      const s = pick(all.slice(1), m.at);
      if (!s) return;
      if (Array.isArray(s.holder)) s.holder.splice(s.key as number, 1);
      else delete s.holder[s.key];
      return;
    }
    case 'replace': {
      const s = pick(all, m.at);
      if (s) setSlot(s, m.value);
      return;
    }
    case 'unknownKey': {
      const s = pick(
        all.filter((x) => isPlain(x.value)),
        m.at,
      );
      if (s) Object.defineProperty(s.value, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
      return;
    }
    case 'badName': {
      const s = pick(
        all.filter((x) => x.key === 'name' && !Array.isArray(x.holder)),
        m.at,
      );
      if (s) setSlot(s, m.value);
      return;
    }
    case 'duplicate': {
      const s = pick(
        all.filter((x) => Array.isArray(x.value) && x.value.length > 0),
        m.at,
      );
      if (!s) return;
      const list = s.value as unknown[];
      const item = list[m.pick % list.length];
      list.push(isPlain(item) ? { ...item } : item);
      return;
    }
    case 'unknownAgent': {
      const s = pick(
        all.filter((x) => isPlain(x.holder) && 'factory' in x.holder && x.key === 'name'),
        m.at,
      );
      if (s) (s.holder as Record<string, unknown>).agents = [m.value];
      return;
    }
    case 'badStep': {
      const s = pick(
        all.filter((x) => isStep(x.value)),
        m.at,
      );
      if (s) setSlot(s, new ShellCommand(m.options as never));
      return;
    }
    case 'badDbUrl':
      if (isRecord(box.config)) box.config.db = { url: m.value };
      return;
    case 'negative': {
      const s = pick(
        all.filter((x) => typeof x.value === 'number'),
        m.at,
      );
      if (s) setSlot(s, m.value);
      return;
    }
    default: {
      const never: never = m;
      throw new Error(`unknown mutation ${JSON.stringify(never)}`);
    }
  }
}
