/**
 * The agent protocol: every message type, validated on both sides. This file (with its codes in
 * reject-codes.ts) is the only code the agent shares with the master. Written down for people in
 * docs/agent-protocol.md.
 */
import { z } from 'zod';
import { isSafeRelativePath } from './safe-path.ts';
import { COMMAND_ERROR_RETRYABLE, CommandErrorCode, REJECT_RETRYABLE, RejectCode } from './reject-codes.ts';

/**
 * 2: `reject` and `error` carry a code and whether retrying can help.
 * 3: file transfer (`upload`, `download`, `data`, `end`; the agent's `ack`; `output` of stream
 *    `file`; `exit` with `bytes` and `sha256`). A master of protocol 3 still welcomes agents of
 *    protocol 2: they run commands as before and cannot transfer files. Also in 3: a command's
 *    `exit` may carry `resources` (the CPU time and peak memory of its process tree).
 * 4: a command's output may come as binary frames (output-frame.ts) instead of JSON with base64;
 *    agents of protocol 2 and 3 keep sending JSON, which the master still reads.
 * 5: a `run` may name the run it follows (`after`): the agent starts it the moment that run exits
 *    with code 0, or else does not start it and reports an `exit` with `skipped`. The master sends
 *    the next step's command this way while a step runs (docs/agent-protocol.md, "Commands sent ahead").
 */
export const PROTOCOL_VERSION = 5;
/** The oldest agent protocol this master welcomes; older agents get the reject protocol 1 could read. */
export const MIN_PROTOCOL_VERSION = 2;
/** The first protocol with file transfer. */
export const TRANSFER_PROTOCOL_VERSION = 3;
/** The first protocol whose `run` may follow another (`after`). */
export const AHEAD_PROTOCOL_VERSION = 5;
/** Frames larger than this close the connection (output is chunked well below it). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Largest `data` payload (decoded bytes) in one output frame. */
export const MAX_OUTPUT_CHUNK = 256 * 1024;
/**
 * The payload (decoded bytes) a file transfer's sender puts in one frame (`output` of stream `file`,
 * `data`); receivers accept up to MAX_OUTPUT_CHUNK. 64 KiB keeps each frame's strings small enough
 * for V8's young generation: with 256 KiB frames the master's RSS grew with the file (large-object
 * garbage waits for a full GC); with these it stays flat (+31 MiB for 100 MB, +35 MiB for 200 MB).
 */
export const MAX_TRANSFER_CHUNK = 64 * 1024;
/** Bytes of a transfer its sender may have sent and not had acknowledged: what a transfer holds in memory. */
export const TRANSFER_WINDOW_BYTES = 4 * 1024 * 1024;

const name = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." or "-" only');
const runId = z.string().min(1).max(64);
const seq = z.number().int().nonnegative();
const base64Chunk = z.string().max(Math.ceil(MAX_OUTPUT_CHUNK / 3) * 4);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in lowercase hex');
const safePath = z.string().refine(isSafeRelativePath, 'must be a relative path without ".."');
/** A transfer's size limit in bytes; null for none. */
const maxsize = z.number().int().nonnegative().nullable();
/**
 * What a command's process tree used: CPU seconds in user and system mode (every process the command
 * started, docs/agent-protocol.md says how), and the largest total resident memory seen at once;
 * `maxRssBytes` is absent when the command ended before its first sample.
 */
const commandResources = z.strictObject({
  userSeconds: z.number().nonnegative(),
  systemSeconds: z.number().nonnegative(),
  maxRssBytes: z.number().int().nonnegative().optional(),
});
export type CommandResources = z.infer<typeof commandResources>;

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
    /** `file`: the bytes of an upload (protocol 3), never in a command's run. */
    stream: z.enum(['stdout', 'stderr', 'file']),
    /** base64 of the raw bytes, so non-UTF-8 output survives byte for byte. */
    data: base64Chunk,
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
    /** A transfer that succeeded (code 0): the bytes it moved and their sha256 (protocol 3). */
    bytes: z.number().int().nonnegative().optional(),
    sha256: sha256.optional(),
    /** A command's process tree, as the agent measured it (protocol 3; absent where it cannot measure). */
    resources: commandResources.optional(),
    /** A run sent `after` another that did not exit with code 0 (or was cancelled before it started): it never ran (protocol 5). */
    skipped: z.literal(true).optional(),
  }),
  /** A download's `data` (or `end`, whose seq follows the last data) is written on the agent (protocol 3). */
  z.strictObject({ type: z.literal('ack'), run: runId, seq }),
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
    workdir: safePath,
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
    /**
     * Protocol 5: start only when this run of the same connection exits with code 0, at once (the
     * master's next step, sent while the one before runs); if it ends otherwise, or is unknown, do not
     * start it and report its `exit` with `skipped`. Sent only to agents of protocol 5.
     */
    after: runId.optional(),
  }),
  z.strictObject({ type: z.literal('cancel'), run: runId }),
  z.strictObject({ type: z.literal('ack'), run: runId, seq }),
  z.strictObject({ type: z.literal('ping') }),
  /**
   * Protocol 3. Send the file (or the directory, as a tar) at `root/path` as `output` frames of stream
   * `file`, then `exit` with its bytes and sha256. `root` is the builder's directory (relative to the
   * agent's base directory): the agent refuses a `path` whose real path leaves it (a symlink out).
   */
  z.strictObject({
    type: z.literal('upload'),
    run: runId,
    root: safePath,
    path: safePath,
    directory: z.boolean(),
    /** A directory's tar gzip-compressed. */
    compress: z.boolean(),
    maxsize,
  }),
  /** Protocol 3. Receive a file into `root/path` from the `data` frames that follow, then `end`. */
  z.strictObject({
    type: z.literal('download'),
    run: runId,
    root: safePath,
    path: safePath,
    /** Permission bits applied to the file (e.g. 0o755); null: 0o644 less the agent's umask. */
    mode: z.number().int().min(0).max(0o7777).nullable(),
    maxsize,
  }),
  /** Protocol 3. A download's bytes, in seq order from 0; the agent acks each once written. */
  z.strictObject({ type: z.literal('data'), run: runId, seq, data: base64Chunk }),
  /** Protocol 3. A download's last frame (seq after the last data): what the agent must have received. */
  z.strictObject({ type: z.literal('end'), run: runId, seq, bytes: z.number().int().nonnegative(), sha256 }),
]);
export type MasterMessage = z.infer<typeof MasterToAgent>;
export type RunMessage = Extract<MasterMessage, { type: 'run' }>;
export type UploadMessage = Extract<MasterMessage, { type: 'upload' }>;
export type DownloadMessage = Extract<MasterMessage, { type: 'download' }>;
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
