import { describe, expect, it } from 'vitest';
import { isSafeRelativePath } from '../../protocol/safe-path.ts';
import {
  commandErrorMessage,
  helloProtocolOf,
  MAX_FRAME_BYTES,
  MAX_OUTPUT_CHUNK,
  parseAgentMessage,
  parseMasterMessage,
  PROTOCOL_VERSION,
  rejectMessage,
  type Parsed,
} from '../../protocol/messages.ts';
import { COMMAND_ERROR_RETRYABLE, CommandErrorCode, REJECT_RETRYABLE, RejectCode } from '../../protocol/reject-codes.ts';

const hello = {
  type: 'hello',
  protocol: PROTOCOL_VERSION,
  name: 'a1',
  token: 'dev-token',
  version: '0.1.0',
  os: 'linux x64',
  capacity: 2,
};
const output = { type: 'output', run: 'r-1', seq: 0, stream: 'stdout', data: Buffer.from('hi\n').toString('base64') };
const exit = { type: 'exit', run: 'r-1', seq: 1, code: 0, signal: null, durationMs: 12.5 };
const run = { type: 'run', run: 'r-1', argv: ['make'], workdir: 'hello/build', env: { CI: '1' }, timeout: 1200, maxTime: null };

const frame = (value: unknown) => JSON.stringify(value);

function errorOf<T>(parsed: Parsed<T>): string {
  if (parsed.ok) throw new Error(`expected a rejection, got ${JSON.stringify(parsed.message)}`);
  return parsed.error;
}

describe('parseAgentMessage: valid messages', () => {
  it('parses hello, filling labels and running', () => {
    expect(parseAgentMessage(frame(hello))).toEqual({ ok: true, message: { ...hello, labels: [], running: [] } });
  });

  it('parses hello with runs still alive after a reconnect', () => {
    const parsed = parseAgentMessage(frame({ ...hello, labels: ['linux'], running: [{ run: 'r-1', nextSeq: 4 }] }));
    expect(parsed).toEqual({ ok: true, message: { ...hello, labels: ['linux'], running: [{ run: 'r-1', nextSeq: 4 }] } });
  });

  it('parses output', () => {
    expect(parseAgentMessage(frame(output))).toEqual({ ok: true, message: output });
    expect(parseAgentMessage(frame({ ...output, stream: 'stderr', seq: 7 })).ok).toBe(true);
  });

  it('parses exit, with killed defaulting to null', () => {
    expect(parseAgentMessage(frame(exit))).toEqual({ ok: true, message: { ...exit, killed: null } });
    const killed = parseAgentMessage(frame({ ...exit, code: null, signal: 'SIGTERM', killed: 'timeout' }));
    expect(killed).toEqual({ ok: true, message: { ...exit, code: null, signal: 'SIGTERM', killed: 'timeout' } });
  });

  it('parses pong and error', () => {
    expect(parseAgentMessage(frame({ type: 'pong' }))).toEqual({ ok: true, message: { type: 'pong' } });
    const error = { type: 'error', run: 'r-1', code: 'spawn_failed', retryable: false, message: 'sh: not found' };
    expect(parseAgentMessage(frame(error))).toEqual({ ok: true, message: error });
  });

  it('refuses an error without a known code or without retryable', () => {
    const error = { type: 'error', run: 'r-1', code: 'spawn_failed', retryable: false, message: 'sh: not found' };
    const { code: _code, ...noCode } = error;
    const { retryable: _retryable, ...noRetryable } = error;
    expect(errorOf(parseAgentMessage(frame(noCode)))).toMatch(/^invalid message at code: /);
    expect(errorOf(parseAgentMessage(frame({ ...error, code: 'oops' })))).toMatch(/^invalid message at code: /);
    expect(errorOf(parseAgentMessage(frame(noRetryable)))).toMatch(/^invalid message at retryable: /);
  });

  it('accepts a frame of exactly MAX_FRAME_BYTES', () => {
    const pong = frame({ type: 'pong' });
    expect(parseAgentMessage(pong + ' '.repeat(MAX_FRAME_BYTES - pong.length)).ok).toBe(true);
  });
});

describe('parseAgentMessage: rejected frames', () => {
  it('rejects a frame that is not JSON', () => {
    expect(errorOf(parseAgentMessage('{"type": "pong"'))).toBe('frame is not JSON');
    expect(errorOf(parseAgentMessage(''))).toBe('frame is not JSON');
  });

  it('rejects JSON that is not a message object', () => {
    for (const raw of ['null', '42', '"pong"', '[]']) expect(errorOf(parseAgentMessage(raw)), raw).toMatch(/^invalid message/);
  });

  it('rejects an unknown type, naming where', () => {
    expect(errorOf(parseAgentMessage(frame({ type: 'shell', cmd: 'rm -rf /' })))).toMatch(/^invalid message at type: /);
    expect(errorOf(parseAgentMessage(frame({ run: 'r-1' })))).toMatch(/^invalid message at type: /);
  });

  it('rejects a master-to-agent message sent by an agent', () => {
    expect(errorOf(parseAgentMessage(frame(run)))).toMatch(/^invalid message at type: /);
  });

  it.each([
    ['run', output],
    ['seq', output],
    ['data', output],
    ['code', exit],
    ['durationMs', exit],
    ['token', hello],
    ['capacity', hello],
  ] as const)('rejects a message missing %s', (field, message) => {
    const { [field]: _dropped, ...rest } = message as Record<string, unknown>;
    expect(errorOf(parseAgentMessage(frame(rest)))).toMatch(new RegExp(`^invalid message at ${field}: `));
  });

  it('rejects extra fields, naming them', () => {
    expect(errorOf(parseAgentMessage(frame({ ...output, exec: 'rm -rf /' })))).toMatch(/^invalid message: .*"exec"/);
    expect(errorOf(parseAgentMessage(frame({ type: 'pong', extra: 1 })))).toMatch(/"extra"/);
  });

  it('rejects a negative or fractional seq', () => {
    expect(errorOf(parseAgentMessage(frame({ ...output, seq: -1 })))).toMatch(/^invalid message at seq: /);
    expect(errorOf(parseAgentMessage(frame({ ...output, seq: 1.5 })))).toMatch(/^invalid message at seq: /);
    expect(errorOf(parseAgentMessage(frame({ ...exit, seq: -1 })))).toMatch(/^invalid message at seq: /);
  });

  it('rejects wrongly typed fields', () => {
    expect(errorOf(parseAgentMessage(frame({ ...output, seq: '0' })))).toMatch(/^invalid message at seq: /);
    expect(errorOf(parseAgentMessage(frame({ ...output, stream: 'stdin' })))).toMatch(/^invalid message at stream: /);
    expect(errorOf(parseAgentMessage(frame({ ...hello, name: 'a b' })))).toMatch(/^invalid message at name: /);
    expect(errorOf(parseAgentMessage(frame({ ...exit, durationMs: -1 })))).toMatch(/^invalid message at durationMs: /);
    expect(errorOf(parseAgentMessage(frame({ ...exit, killed: 'oom' })))).toMatch(/^invalid message at killed: /);
  });

  it('rejects an output payload larger than one chunk', () => {
    const data = Buffer.alloc(MAX_OUTPUT_CHUNK + 3).toString('base64');
    expect(errorOf(parseAgentMessage(frame({ ...output, data })))).toMatch(/^invalid message at data: /);
    expect(parseAgentMessage(frame({ ...output, data: Buffer.alloc(MAX_OUTPUT_CHUNK).toString('base64') })).ok).toBe(true);
  });

  it('rejects a frame over MAX_FRAME_BYTES before parsing it', () => {
    const pong = frame({ type: 'pong' });
    expect(errorOf(parseAgentMessage(pong + ' '.repeat(MAX_FRAME_BYTES - pong.length + 1)))).toBe(
      `frame larger than ${MAX_FRAME_BYTES} bytes`,
    );
    expect(errorOf(parseAgentMessage('x'.repeat(MAX_FRAME_BYTES * 2)))).toBe(`frame larger than ${MAX_FRAME_BYTES} bytes`);
  });

  it('measures a frame in bytes, not characters', () => {
    // 3 bytes per character: under the limit in characters, over it in bytes.
    const message = '€'.repeat(Math.ceil(MAX_FRAME_BYTES / 3) + 1);
    expect(message.length).toBeLessThan(MAX_FRAME_BYTES);
    expect(errorOf(parseAgentMessage(frame({ type: 'error', run: 'r-1', message })))).toBe(`frame larger than ${MAX_FRAME_BYTES} bytes`);
  });
});

describe('parseMasterMessage', () => {
  it('parses run, welcome, ack, cancel and ping', () => {
    expect(parseMasterMessage(frame(run))).toEqual({ ok: true, message: run });
    expect(
      parseMasterMessage(frame({ type: 'welcome', protocol: PROTOCOL_VERSION, heartbeatMs: 10_000, graceMs: 60_000, resume: ['r1'] })).ok,
    ).toBe(true);
    expect(parseMasterMessage(frame({ type: 'ack', run: 'r-1', seq: 3 })).ok).toBe(true);
    expect(parseMasterMessage(frame({ type: 'cancel', run: 'r-1' })).ok).toBe(true);
    expect(parseMasterMessage(frame({ type: 'ping' })).ok).toBe(true);
  });

  it('defaults a run message env to {}', () => {
    const { env: _env, ...noEnv } = run;
    expect(parseMasterMessage(frame(noEnv))).toEqual({ ok: true, message: { ...noEnv, env: {} } });
  });

  it.each(['/etc', '/home/agent/hello', '../hello', 'hello/../../etc', '..', 'a\\..\\b', ''])('rejects a run in workdir %j', (workdir) => {
    expect(errorOf(parseMasterMessage(frame({ ...run, workdir })))).toBe(
      'invalid message at workdir: must be a relative path without ".."',
    );
  });

  it('rejects a run with a bad environment variable name, or a negative ack seq', () => {
    expect(errorOf(parseMasterMessage(frame({ ...run, env: { 'BAD NAME': 'x' } })))).toMatch(/^invalid message at env/);
    expect(errorOf(parseMasterMessage(frame({ type: 'ack', run: 'r-1', seq: -1 })))).toMatch(/^invalid message at seq: /);
  });
});

describe('reject and command error codes', () => {
  it('parses a reject with its code, retryable and reason', () => {
    const reject = { type: 'reject', code: 'rate_limited', retryable: true, reason: 'too many failed handshakes' };
    expect(parseMasterMessage(frame(reject))).toEqual({ ok: true, message: reject });
  });

  it("refuses protocol 1's reject, which has no code", () => {
    expect(errorOf(parseMasterMessage(frame({ type: 'reject', reason: 'unknown agent or wrong token' })))).toMatch(
      /^invalid message at code: /,
    );
    expect(errorOf(parseMasterMessage(frame({ type: 'reject', code: 'nope', retryable: false, reason: 'x' })))).toMatch(
      /^invalid message at code: /,
    );
  });

  it('builds rejects and command errors whose retryable comes from the code table', () => {
    for (const code of Object.values(RejectCode)) {
      const m = rejectMessage(code, 'why');
      expect(m).toEqual({ type: 'reject', code, retryable: REJECT_RETRYABLE[code], reason: 'why' });
      expect(parseMasterMessage(frame(m))).toEqual({ ok: true, message: m });
    }
    for (const code of Object.values(CommandErrorCode)) {
      const m = commandErrorMessage('r-1', code, 'why');
      expect(m).toEqual({ type: 'error', run: 'r-1', code, retryable: COMMAND_ERROR_RETRYABLE[code], message: 'why' });
      expect(parseAgentMessage(frame(m))).toEqual({ ok: true, message: m });
    }
  });

  it('retries only what can succeed later', () => {
    const retryable = Object.values(RejectCode).filter((c) => REJECT_RETRYABLE[c]);
    expect(retryable.sort()).toEqual(['already_connected', 'handshake_timeout', 'master_error', 'rate_limited']);
    expect(Object.values(CommandErrorCode).filter((c) => COMMAND_ERROR_RETRYABLE[c])).toEqual([
      'out_of_resources',
      'checksum_mismatch',
      'io_error',
    ]);
  });
});

describe('helloProtocolOf', () => {
  it('reads the version of any hello, even one this protocol refuses', () => {
    expect(helloProtocolOf(frame(hello))).toBe(PROTOCOL_VERSION);
    expect(helloProtocolOf(frame({ type: 'hello', protocol: 1 }))).toBe(1);
    expect(helloProtocolOf(frame({ ...hello, protocol: 1, future: { field: true } }))).toBe(1);
  });

  it.each([
    ['not JSON', '{"type":"hello"'],
    ['another message', frame({ type: 'pong', protocol: 1 })],
    ['no protocol', frame({ type: 'hello' })],
    ['a fractional protocol', frame({ type: 'hello', protocol: 1.5 })],
    ['a string protocol', frame({ type: 'hello', protocol: '1' })],
    ['an array', frame([hello])],
  ])('is null for %s', (_what, raw) => {
    expect(helloProtocolOf(raw)).toBeNull();
  });
});

describe('isSafeRelativePath', () => {
  it.each(['build', 'hello/build', 'a/b/c', '.', './build', '..cache', 'v1..2', 'a/..b/c', 'dir.with.dots'])('accepts %j', (p) => {
    expect(isSafeRelativePath(p)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['absolute', '/tmp'],
    ['parent', '..'],
    ['parent first', '../x'],
    ['parent inside', 'a/../b'],
    ['parent last', 'a/..'],
    ['backslash', 'a\\b'],
    ['NUL byte', 'a\0b'],
    ['too long', 'a'.repeat(501)],
  ])('refuses a path that is %s', (_what, p) => {
    expect(isSafeRelativePath(p)).toBe(false);
  });

  it('accepts 500 characters', () => {
    expect(isSafeRelativePath('a'.repeat(500))).toBe(true);
  });
});
