/**
 * The agent protocol: every message type, validated on both sides. This file (with its codes in
 * reject-codes.ts) is the only code the agent shares with the master. Written down for people in
 * docs/agent-protocol.md.
 */
import { z } from 'zod';
import { isSafeRelativePath } from './safe-path.ts';
import { COMMAND_ERROR_RETRYABLE, CommandErrorCode, REJECT_RETRYABLE, RejectCode } from './reject-codes.ts';

/** 2: `reject` and `error` carry a code and whether retrying can help. */
export const PROTOCOL_VERSION = 2;
/** Frames larger than this close the connection (output is chunked well below it). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Largest `data` payload (decoded bytes) in one output frame. */
export const MAX_OUTPUT_CHUNK = 256 * 1024;

const name = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." or "-" only');
const runId = z.string().min(1).max(64);
const seq = z.number().int().nonnegative();

export const AgentToMaster = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('hello'),
    protocol: z.number().int(),
    name,
    token: z.string().max(1000),
    version: z.string().max(100),
    os: z.string().max(200),
    labels: z.array(z.string().max(100)).max(100).default([]),
    capacity: z.number().int().min(1).max(1000),
    /** Runs still alive on the agent after a reconnect, with the next seq it would send. */
    running: z
      .array(z.strictObject({ run: runId, nextSeq: seq }))
      .max(1000)
      .default([]),
  }),
  z.strictObject({
    type: z.literal('output'),
    run: runId,
    seq,
    stream: z.enum(['stdout', 'stderr']),
    /** base64 of the raw bytes, so non-UTF-8 output survives byte for byte. */
    data: z.string().max(Math.ceil(MAX_OUTPUT_CHUNK / 3) * 4),
  }),
  z.strictObject({
    type: z.literal('exit'),
    run: runId,
    /** seq of the first output message this run did not send: the master has all before it. */
    seq,
    code: z.number().int().nullable(),
    signal: z.string().max(20).nullable(),
    durationMs: z.number().nonnegative(),
    /** Why the agent killed it, if it did. */
    killed: z.enum(['timeout', 'maxTime', 'cancel']).nullable().default(null),
  }),
  z.strictObject({
    type: z.literal('error'),
    run: runId,
    code: z.enum(CommandErrorCode),
    retryable: z.boolean(),
    message: z.string().max(10_000),
  }),
  z.strictObject({ type: z.literal('pong') }),
]);
export type AgentMessage = z.infer<typeof AgentToMaster>;

const envVars = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string());

export const MasterToAgent = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('welcome'),
    protocol: z.number().int(),
    heartbeatMs: z.number().int().positive(),
    /** How long the master keeps a disconnected agent's runs waiting for it to come back. */
    graceMs: z.number().int().nonnegative(),
    /** Runs from the agent's hello that the master still follows: resend their unacked output. Kill the others. */
    resume: z.array(runId).max(1000).default([]),
  }),
  z.strictObject({ type: z.literal('reject'), code: z.enum(RejectCode), retryable: z.boolean(), reason: z.string() }),
  z.strictObject({
    type: z.literal('run'),
    run: runId,
    argv: z.array(z.string()).min(1).optional(),
    shell: z.string().min(1).optional(),
    /** Relative to the agent's base directory; never absolute, never with "..". */
    workdir: z.string().refine(isSafeRelativePath, 'must be a relative path without ".."'),
    env: envVars.default({}),
    /** Seconds without output before the agent kills the command; null for none. */
    timeout: z.number().positive().nullable(),
    /** Seconds of wall time before the agent kills the command; null for none. */
    maxTime: z.number().positive().nullable(),
    /**
     * Seconds between the SIGTERM and the SIGKILL of a kill (timeout, maxTime, cancel). Optional so
     * that protocol 2 stays as it was: absent, the agent waits its own grace (3 s). A master sends it
     * only when a step sets `sigtermTime`, since an older agent refuses unknown fields.
     */
    sigtermTime: z.number().positive().max(3600).optional(),
  }),
  z.strictObject({ type: z.literal('cancel'), run: runId }),
  z.strictObject({ type: z.literal('ack'), run: runId, seq }),
  z.strictObject({ type: z.literal('ping') }),
]);
export type MasterMessage = z.infer<typeof MasterToAgent>;
export type RunMessage = Extract<MasterMessage, { type: 'run' }>;
export type RejectMessage = Extract<MasterMessage, { type: 'reject' }>;
export type CommandErrorMessage = Extract<AgentMessage, { type: 'error' }>;

export const rejectMessage = (code: RejectCode, reason: string): RejectMessage => ({
  type: 'reject',
  code,
  retryable: REJECT_RETRYABLE[code],
  reason,
});

export const commandErrorMessage = (run: string, code: CommandErrorCode, message: string): CommandErrorMessage => ({
  type: 'error',
  run,
  code,
  retryable: COMMAND_ERROR_RETRYABLE[code],
  message,
});

/**
 * The only refusal an agent of protocol 1 can read: its schema allowed no key beyond these. The
 * master answers an older agent's hello with it, so that agent stops and says why.
 */
export interface LegacyRejectMessage {
  type: 'reject';
  reason: string;
}

/** Just enough of a hello to learn its version: an older agent's hello need not pass this version's schema. */
const HelloVersion = z.looseObject({ type: z.literal('hello'), protocol: z.number().int() });

/** The protocol a first frame's hello names, read before the full check; null if it is no hello. */
export function helloProtocolOf(raw: string): number | null {
  if (Buffer.byteLength(raw) > MAX_FRAME_BYTES) return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null;
  }
  const hello = HelloVersion.safeParse(json);
  return hello.success ? hello.data.protocol : null;
}

export type Parsed<T> = { ok: true; message: T } | { ok: false; error: string };

function parseFrame<T>(schema: z.ZodType<T>, raw: string): Parsed<T> {
  if (Buffer.byteLength(raw) > MAX_FRAME_BYTES) return { ok: false, error: `frame larger than ${MAX_FRAME_BYTES} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    return { ok: false, error: `invalid message${where}: ${issue?.message ?? 'unknown'}` };
  }
  return { ok: true, message: result.data };
}

export const parseAgentMessage = (raw: string): Parsed<AgentMessage> => parseFrame(AgentToMaster, raw);
export const parseMasterMessage = (raw: string): Parsed<MasterMessage> => parseFrame(MasterToAgent, raw);
