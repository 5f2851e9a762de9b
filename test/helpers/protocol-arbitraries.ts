/** Message shapes of the agent protocol for the fuzz tests: a valid and an invalid arbitrary per field. */
import fc from 'fast-check';
import { expect } from 'vitest';
import { type AgentToMaster, type MasterToAgent, MAX_FRAME_BYTES, type Parsed } from '../../protocol/messages.ts';
import { CommandErrorCode, RejectCode } from '../../protocol/reject-codes.ts';

// ---------------------------------------------------------------------------------------------
// Message shapes, as the protocol defines them: a valid and an invalid arbitrary per field
// ---------------------------------------------------------------------------------------------

export interface Field {
  valid: fc.Arbitrary<unknown>;
  /** Values the schema must refuse (never `undefined`: JSON would drop the key). */
  invalid: fc.Arbitrary<unknown>;
  optional?: true;
  /** What the parser fills in when the field is left out. */
  default?: unknown;
  numeric?: true;
}
export type Shape = Record<string, Field>;

export const notString = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({}));
export const notNumber = fc.oneof(fc.string({ maxLength: 5 }), fc.boolean(), fc.constant(null), fc.constant([1]), fc.constant({}));
/** Strings whose UTF-16 length stays within `max`: ASCII, any code point (surrogate pairs count 2), and exactly `max`. */
export const str = (max: number, min = 0) =>
  fc.oneof(
    fc.string({ minLength: min, maxLength: Math.min(max, 40) }),
    fc.string({ unit: 'binary', minLength: min, maxLength: Math.min(Math.floor(max / 2), 40) }).filter((s) => s.length >= min),
    fc.constant('y'.repeat(max)),
  );
export const badStr = (max: number) => fc.oneof(fc.constant('z'.repeat(max + 1)), notString);
export const int = (min: number, max: number) => fc.integer({ min, max });
export const badInt = (min: number, max: number) =>
  fc.oneof(
    fc.constantFrom(min - 1, max + 1, min + 0.5),
    fc.double({ min: min + 0.01, max: max - 0.01, noNaN: true }).filter((d) => !Number.isInteger(d)),
    notNumber,
  );
export const NAME_RE = /^[A-Za-z0-9_.-]{1,100}$/;
export const nameArb = fc.stringMatching(NAME_RE);
export const badName = fc.oneof(fc.constantFrom('', 'a b', 'n'.repeat(101), 'ünï', 'a/b'), notString);
export const runId = fc.oneof(
  fc.string({ minLength: 1, maxLength: 64 }),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }).filter((r) => r.length <= 64),
  fc.constant('r'.repeat(64)),
  fc.uuid(),
);
export const badRunId = fc.oneof(fc.constantFrom('', 'r'.repeat(65)), notString);
export const seq = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
export const badSeq = fc.oneof(fc.integer({ max: -1 }), fc.constantFrom(-1, 0.5, '0', null, Number.MAX_SAFE_INTEGER + 2, 1e300), notNumber);
export const envName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,15}$/);
const notBoolean = fc.oneof(fc.constantFrom(0, 1, 'true', 'false', null), fc.constant([]), fc.constant({}));
/** A field holding one of a code table's values. */
const codeField = (codes: Record<string, string>): Field => {
  const values = Object.values(codes);
  return {
    valid: fc.constantFrom(...values),
    invalid: fc.oneof(
      fc.string({ maxLength: 12 }).filter((c) => !values.includes(c)),
      fc.constantFrom(...values.map((c) => c.toUpperCase())),
      notString,
    ),
  };
};
const retryableField: Field = { valid: fc.boolean(), invalid: notBoolean };
/** File transfer (protocol 3): paths relative without "..", sizes, checksums. */
const safePathArb = fc
  .array(
    fc.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/).filter((p) => p !== '..'),
    { minLength: 1, maxLength: 3 },
  )
  .map((p) => p.join('/'));
const badPath = fc.oneof(fc.constantFrom('', '/abs', '..', 'a/../b', 'a\\b', 'a\u0000b', 'w'.repeat(501)), notString);
const sha256Arb = fc.stringMatching(/^[0-9a-f]{64}$/);
const badSha256 = fc.oneof(fc.constantFrom('', 'A'.repeat(64), 'a'.repeat(63), 'a'.repeat(65), 'g'.repeat(64)), notString);
const maxsizeField: Field = {
  valid: fc.oneof(fc.constant(null), fc.nat()),
  invalid: fc.oneof(fc.constantFrom(-1, 0.5, '10'), fc.boolean()),
  numeric: true,
};

export const agentShapes: Record<string, Shape> = {
  hello: {
    protocol: { valid: int(-1000, 1000), invalid: fc.oneof(fc.constant(1.5), notNumber), numeric: true },
    name: { valid: nameArb, invalid: badName },
    token: { valid: str(1000), invalid: badStr(1000) },
    version: { valid: str(100), invalid: badStr(100) },
    os: { valid: str(200), invalid: badStr(200) },
    labels: {
      valid: fc.array(str(100), { maxLength: 5 }),
      invalid: fc.oneof(fc.constant([5]), fc.constant('linux'), fc.constant(Array(101).fill('l')), fc.constant(['l'.repeat(101)])),
      optional: true,
      default: [],
    },
    capacity: { valid: int(1, 1000), invalid: badInt(1, 1000), numeric: true },
    running: {
      valid: fc.array(fc.record({ run: runId, nextSeq: seq }), { maxLength: 4 }),
      invalid: fc.constantFrom(
        [{ run: '', nextSeq: 0 }],
        [{ run: 'r', nextSeq: -1 }],
        [{ run: 'r' }],
        [{ run: 'r', nextSeq: 0, extra: 1 }],
        {},
        'r',
        [null],
      ),
      optional: true,
      default: [],
    },
  },
  output: {
    run: { valid: runId, invalid: badRunId },
    seq: { valid: seq, invalid: badSeq, numeric: true },
    stream: {
      valid: fc.constantFrom('stdout', 'stderr', 'file'),
      invalid: fc.oneof(fc.constantFrom('stdin', 'STDOUT', 'FILE', ''), notString),
    },
    data: {
      valid: fc.oneof(fc.base64String({ maxLength: 200 }), fc.constant('A'.repeat(349_528))),
      invalid: fc.oneof(fc.constant('A'.repeat(349_529)), notString),
    },
  },
  exit: {
    run: { valid: runId, invalid: badRunId },
    seq: { valid: seq, invalid: badSeq, numeric: true },
    code: {
      valid: fc.oneof(fc.integer(), fc.constant(null)),
      invalid: fc.oneof(
        fc.constant(0.5),
        notNumber.filter((v) => v !== null),
      ),
      numeric: true,
    },
    signal: { valid: fc.oneof(str(20), fc.constant(null)), invalid: fc.oneof(fc.constant('S'.repeat(21)), fc.integer(), fc.constant([])) },
    durationMs: {
      valid: fc.oneof(
        fc.nat(),
        fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true }).map((d) => Math.abs(d)),
      ),
      invalid: fc.oneof(fc.constantFrom(-1, -0.5, -1e300), notNumber),
      numeric: true,
    },
    killed: {
      valid: fc.constantFrom('timeout', 'maxTime', 'cancel', null),
      invalid: fc.oneof(fc.constantFrom('kill', 'TIMEOUT', ''), fc.integer()),
      optional: true,
      default: null,
    },
    bytes: { valid: fc.nat(), invalid: fc.oneof(fc.constantFrom(-1, 0.5), notNumber), optional: true, numeric: true },
    sha256: { valid: sha256Arb, invalid: badSha256, optional: true },
  },
  error: {
    run: { valid: runId, invalid: badRunId },
    code: codeField(CommandErrorCode),
    retryable: retryableField,
    message: { valid: fc.oneof(str(10_000), fc.constant('m'.repeat(10_000))), invalid: badStr(10_000) },
  },
  pong: {},
  ack: { run: { valid: runId, invalid: badRunId }, seq: { valid: seq, invalid: badSeq, numeric: true } },
};

export const masterShapes: Record<string, Shape> = {
  welcome: {
    protocol: { valid: int(-5, 5), invalid: fc.oneof(fc.constant(1.5), notNumber), numeric: true },
    heartbeatMs: { valid: int(1, 1e9), invalid: badInt(1, 1e9).filter((v) => v !== 1e9 + 1), numeric: true },
    graceMs: { valid: int(0, 1e9), invalid: fc.oneof(fc.constantFrom(-1, 0.5), notNumber), numeric: true },
    resume: {
      valid: fc.array(runId, { maxLength: 4 }),
      invalid: fc.oneof(fc.constant(['']), fc.constant('r'), fc.constant(Array(1001).fill('r'))),
      optional: true,
      default: [],
    },
  },
  reject: {
    code: codeField(RejectCode),
    retryable: retryableField,
    reason: { valid: fc.string({ maxLength: 200 }), invalid: notString },
  },
  run: {
    run: { valid: runId, invalid: badRunId },
    argv: {
      valid: fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 4 }),
      invalid: fc.oneof(fc.constant([]), fc.constant([1]), fc.constant('ls')),
      optional: true,
    },
    shell: { valid: fc.string({ minLength: 1, maxLength: 40 }), invalid: fc.oneof(fc.constant(''), notString), optional: true },
    workdir: {
      valid: fc
        .array(
          fc.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/).filter((p) => p !== '..'),
          { minLength: 1, maxLength: 3 },
        )
        .map((p) => p.join('/')),
      invalid: fc.oneof(fc.constantFrom('', '/abs', '..', 'a/../b', 'a\\b', 'a\u0000b', 'w'.repeat(501)), notString),
    },
    env: {
      valid: fc.dictionary(envName, fc.string({ maxLength: 20 }), { maxKeys: 3 }),
      invalid: fc.constantFrom({ 'BAD KEY': 'x' }, { '1X': 'x' }, { OK: 1 }, ['x']),
      optional: true,
      default: {},
    },
    timeout: {
      valid: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 1e6 }), fc.constant(0.5)),
      invalid: fc.oneof(fc.constantFrom(0, -1), fc.string({ maxLength: 3 })),
      numeric: true,
    },
    maxTime: {
      valid: fc.oneof(fc.constant(null), fc.integer({ min: 1, max: 1e6 })),
      invalid: fc.oneof(fc.constantFrom(0, -5), fc.boolean()),
      numeric: true,
    },
  },
  cancel: { run: { valid: runId, invalid: badRunId } },
  ack: { run: { valid: runId, invalid: badRunId }, seq: { valid: seq, invalid: badSeq, numeric: true } },
  ping: {},
  upload: {
    run: { valid: runId, invalid: badRunId },
    root: { valid: safePathArb, invalid: badPath },
    path: { valid: safePathArb, invalid: badPath },
    directory: { valid: fc.boolean(), invalid: notBoolean },
    compress: { valid: fc.boolean(), invalid: notBoolean },
    maxsize: maxsizeField,
  },
  download: {
    run: { valid: runId, invalid: badRunId },
    root: { valid: safePathArb, invalid: badPath },
    path: { valid: safePathArb, invalid: badPath },
    mode: {
      valid: fc.oneof(fc.constant(null), int(0, 0o7777)),
      invalid: fc.oneof(fc.constantFrom(-1, 0o10000, 0.5, '755'), fc.boolean()),
      numeric: true,
    },
    maxsize: maxsizeField,
  },
  data: {
    run: { valid: runId, invalid: badRunId },
    seq: { valid: seq, invalid: badSeq, numeric: true },
    data: {
      valid: fc.oneof(fc.base64String({ maxLength: 200 }), fc.constant('A'.repeat(349_528))),
      invalid: fc.oneof(fc.constant('A'.repeat(349_529)), notString),
    },
  },
  end: {
    run: { valid: runId, invalid: badRunId },
    seq: { valid: seq, invalid: badSeq, numeric: true },
    bytes: { valid: fc.nat(), invalid: fc.oneof(fc.constantFrom(-1, 0.5), notNumber), numeric: true },
    sha256: { valid: sha256Arb, invalid: badSha256 },
  },
};

export type Message = Record<string, unknown> & { type: string };

export function validArb(type: string, shape: Shape): fc.Arbitrary<Message> {
  const fields = Object.fromEntries(Object.entries(shape).map(([k, f]) => [k, f.valid]));
  const required = Object.entries(shape)
    .filter(([, f]) => !f.optional)
    .map(([k]) => k);
  return fc.record(fields, { requiredKeys: required }).map((m) => ({ type, ...m }));
}

/** What the parser must return for a valid message: the JSON of it, with defaults filled in. */
export function expectedParse(shape: Shape, m: Message): unknown {
  const defaults = Object.fromEntries(Object.entries(shape).flatMap(([k, f]) => ('default' in f && !(k in m) ? [[k, f.default]] : [])));
  return JSON.parse(JSON.stringify({ ...defaults, ...m }));
}

export const allValid = (shapes: Record<string, Shape>) =>
  fc.oneof(...Object.entries(shapes).map(([type, shape]) => validArb(type, shape)));
export const validAgentArb = allValid(agentShapes);
export const validMasterArb = allValid(masterShapes);

export const RAW = '"__raw_number__"';
/** A text the schema must refuse, and what was broken (for the failure message). */
export interface Broken {
  text: string;
  why: string;
}

export function brokenArb(type: string, shape: Shape): fc.Arbitrary<Broken> {
  const valid = validArb(type, shape);
  const keys = Object.keys(shape);
  const required = keys.filter((k) => !shape[k]?.optional);
  const numeric = keys.filter((k) => shape[k]?.numeric);
  const text = (v: unknown) => JSON.stringify(v);
  const options: fc.Arbitrary<Broken>[] = [
    fc
      .tuple(
        valid,
        fc
          .oneof(
            fc.string({ minLength: 1, maxLength: 8 }),
            fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
            fc.constantFrom('__proto__', 'constructor', 'Type'),
          )
          .filter((k) => k !== 'type' && !keys.includes(k)),
        fc.jsonValue({ maxDepth: 1 }),
      )
      .map(([m, k, v]) => ({ text: text({ ...m, [k]: v }), why: `extra key ${JSON.stringify(k)}` })),
    valid.map((m) => ({ text: text({ ...m, type: `${type}-x` }), why: 'unknown type' })),
    valid.map((m) => ({ text: text({ ...m, type: 7 }), why: 'type not a string' })),
    valid.map((m) => ({ text: text([m]), why: 'array at the root' })),
    valid.map((m) => {
      const c: Record<string, unknown> = { ...m };
      delete c.type;
      return { text: text(c), why: 'type missing' };
    }),
  ];
  if (keys.length > 0) {
    options.push(
      fc
        .tuple(valid, fc.constantFrom(...keys))
        .chain(([m, k]) =>
          (shape[k] as Field).invalid.map((v) => ({ text: text({ ...m, [k]: v }), why: `${k} = ${JSON.stringify(v)?.slice(0, 40)}` })),
        ),
    );
  }
  if (required.length > 0) {
    options.push(
      fc.tuple(valid, fc.constantFrom(...required)).map(([m, k]) => {
        const c: Record<string, unknown> = { ...m };
        delete c[k];
        return { text: text(c), why: `${k} missing` };
      }),
    );
  }
  if (numeric.length > 0) {
    // JSON can spell numbers no double holds: they parse to ±Infinity, which no field accepts.
    options.push(
      fc.tuple(valid, fc.constantFrom(...numeric), fc.constantFrom('1e999', '-1e999', '9'.repeat(400))).map(([m, k, raw]) => ({
        text: text({ ...m, [k]: RAW.slice(1, -1) }).replace(RAW, raw),
        why: `${k} = ${raw.slice(0, 10)}`,
      })),
    );
  }
  return fc.oneof(...options);
}

export const brokenAgentArb = fc.oneof(...Object.entries(agentShapes).map(([t, s]) => brokenArb(t, s)));
export const brokenMasterArb = fc.oneof(...Object.entries(masterShapes).map(([t, s]) => brokenArb(t, s)));

/** Any text at all: random strings, random JSON, messages valid and broken, truncated, with junk around. */
export function anyTextArb(valid: fc.Arbitrary<Message>, broken: fc.Arbitrary<Broken>): fc.Arbitrary<string> {
  const validText = valid.map((m) => JSON.stringify(m));
  return fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: 'binary-ascii' }),
    fc.json(),
    fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
    validText,
    broken.map((b) => b.text),
    fc.tuple(validText, fc.nat()).map(([t, n]) => t.slice(0, n % (t.length + 1))),
    fc.tuple(validText, fc.string({ maxLength: 4 })).map(([t, junk]) => t + junk),
    fc.tuple(fc.constantFrom(' ', '\n', '\t', '\ufeff', '\u00a0'), validText).map(([ws, t]) => ws + t + ws),
  );
}

/** The schema itself, applied as the protocol document says: size in bytes, then JSON, then shape. */
export function oracle(schema: typeof AgentToMaster | typeof MasterToAgent, raw: string): { ok: true; value: unknown } | { ok: false } {
  if (Buffer.byteLength(raw) > MAX_FRAME_BYTES) return { ok: false };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false };
  }
  const r = schema.safeParse(json);
  return r.success ? { ok: true, value: r.data } : { ok: false };
}

export function checkAgainstOracle(
  parse: (raw: string) => Parsed<unknown>,
  schema: typeof AgentToMaster | typeof MasterToAgent,
  raw: string,
): void {
  const got = parse(raw); // must not throw
  const want = oracle(schema, raw);
  expect(got.ok).toBe(want.ok);
  if (got.ok && want.ok) expect(got.message).toEqual(want.value);
  if (!got.ok) {
    expect(typeof got.error).toBe('string');
    expect(got.error.length).toBeGreaterThan(0);
  }
}
