/**
 * The agent: dials out to the master (so it can sit behind NAT), authenticates, runs commands.
 *
 * States: disconnected -> connecting -> handshaking -> ready -> disconnected -> (backoff) -> connecting ...
 *         connecting | handshaking -> disconnected (the connection failed or dropped; a retryable reject)
 *         any -> stopped (stop() called, or the master rejected us with a code retrying cannot help)
 * Only `enter()` changes the state, and it throws when the state it leaves is not one the table
 * below allows. A master that welcomes or rejects us outside the handshake breaks the protocol.
 * When the connection drops, running commands keep running and their output is kept (pipes pause
 * once `windowBytes` are waiting); on reconnect the hello lists them, the master says which it
 * still follows, and their unacked output and exits are sent again. Commands the master no longer
 * follows, or that stay disconnected past the master's grace period, are killed.
 */
import os from 'node:os';
import { WebSocket } from 'ws';
import { CommandRunner, agentEnv } from './command-runner.ts';
import { DownloadRunner } from './download-runner.ts';
import type { AgentRun } from './file-transfer.ts';
import { UploadRunner } from './upload-runner.ts';
import { OrphanGuard } from './orphan-guard.ts';
import { NodeLauncher, type ProcessLauncher } from './process-launcher.ts';
import { SpawnHelper, findPerl } from './spawn-helper.ts';
import { AgentStats } from './agent-stats.ts';
import { ResourceMonitor } from './resource-monitor.ts';
import type { OutputReclaimer } from './output-reclaim.ts';
import { FramePool } from './frame-pool.ts';
import { backoffDelay } from '../core/retry.ts';
import { closeReason } from '../protocol/close-reason.ts';
import {
  PROTOCOL_VERSION,
  TRANSFER_WINDOW_BYTES,
  parseMasterMessage,
  type AgentMessage,
  type MasterMessage,
} from '../protocol/messages.ts';
import { REJECT_RETRYABLE, type RejectCode } from '../protocol/reject-codes.ts';
import { BINARY_OUTPUT_PROTOCOL_VERSION, encodeOutputFrame, type OutputChunk } from '../protocol/output-frame.ts';

export interface AgentOptions {
  master: string;
  name: string;
  token: string;
  basedir: string;
  labels?: string[];
  capacity?: number;
  /** Unacked output bytes per command before its pipes pause. */
  windowBytes?: number;
  killGraceMs?: number;
  maxBackoffMs?: number;
  log?: (line: string) => void;
  /** Frees a big output's dead read buffers while it runs (output-reclaim.ts; the agent program's). */
  reclaimer?: OutputReclaimer | null;
  /**
   * Who forks the commands: `helper`, the spawn helper (spawn-helper.ts; needs perl, else falls
   * back), or `node`, the agent itself with the orphan guard beside it. Default `helper`.
   */
  spawn?: SpawnMode;
}

export type SpawnMode = 'helper' | 'node';

export type AgentState = 'connecting' | 'handshaking' | 'ready' | 'disconnected' | 'stopped';

/** The states each state may be entered from. */
const ENTERED_FROM = {
  connecting: ['disconnected'],
  handshaking: ['connecting'],
  ready: ['handshaking'],
  disconnected: ['connecting', 'handshaking', 'ready'],
  stopped: ['disconnected', 'connecting', 'handshaking', 'ready', 'stopped'],
} as const satisfies Record<AgentState, readonly AgentState[]>;

/** The master refused the agent with a code that retrying cannot help: `start()` rejects with it. */
export class AgentRefusedError extends Error {
  constructor(
    readonly agent: string,
    readonly code: RejectCode,
    readonly reason: string,
  ) {
    super(`master refused agent "${agent}" (${code}): ${reason}`);
    this.name = 'AgentRefusedError';
  }
}

export const AGENT_VERSION = '0.1.0';

export class Agent {
  private state: AgentState = 'disconnected';
  private ws: WebSocket | null = null;
  /** Commands and file transfers, by run id: all resume, ack and cancel alike. */
  private readonly runs = new Map<string, AgentRun>();
  /** Reconnects since the last welcome: the next delay grows with it (core/retry.ts). */
  private reconnectAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private lastHeard = Date.now();
  /** The master's grace period (from its welcome): how long runs may wait for a reconnect. */
  private graceMs = 60_000;
  /** The welcome's protocol is 4 or later: command output goes as binary frames (protocol/output-frame.ts). */
  private binaryOutput = false;
  private graceTimer: NodeJS.Timeout | null = null;
  private readyWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly log: (line: string) => void;
  /** Starts the commands' processes (process-launcher.ts). */
  private readonly launcher: ProcessLauncher;
  /** Each command's CPU time and peak memory (null without Linux's /proc). */
  private readonly resources = ResourceMonitor.create();
  private connectAttempts = 0;
  /** What this agent counts about itself (read by `--metrics-server`). */
  readonly stats = new AgentStats();
  /** Every command's environment starts from this copy, taken when the agent is made. */
  private readonly baseEnv = agentEnv();
  /** Big output frames, reused (frame-pool.ts): room for two commands' full windows. */
  private readonly frames: FramePool;

  constructor(private readonly options: AgentOptions) {
    this.log = options.log ?? ((line) => console.log(`${new Date().toISOString()} [agent ${options.name}] ${line}`));
    const perl = options.spawn === 'node' ? null : findPerl();
    if (!perl && options.spawn !== 'node')
      this.log('no perl on PATH: commands are forked by the agent itself (slower per step; see --spawn)');
    this.launcher = perl ? new SpawnHelper(perl, this.baseEnv, this.log) : new NodeLauncher(this.baseEnv, new OrphanGuard(this.log));
    this.frames = new FramePool(2 * this.windowBytes);
  }

  private get windowBytes(): number {
    return this.options.windowBytes ?? 8 * 1024 * 1024;
  }

  get name(): string {
    return this.options.name;
  }

  get connectionState(): AgentState {
    return this.state;
  }

  /** Connects; resolves once the master has welcomed us, rejects if it refuses us for good. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    this.launcher.start();
    this.connect();
    return ready;
  }

  /** Kills running commands (SIGTERM, SIGKILL after the grace period) and resolves once they are gone. */
  async stop(): Promise<void> {
    this.enter('stopped');
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.graceTimer) clearTimeout(this.graceTimer);
    const runs = [...this.runs.values()];
    for (const r of runs) r.cancel();
    await Promise.all(runs.map((r) => r.finished));
    this.launcher.stop();
    this.ws?.close(1000, 'agent stopping');
  }

  private connect(): void {
    if (this.state === 'stopped') return;
    this.enter('connecting');
    if (this.connectAttempts++ > 0) this.stats.reconnects++;
    const ws = new WebSocket(this.options.master, { maxPayload: 16 * 1024 * 1024, handshakeTimeout: 10_000 });
    this.ws = ws;
    ws.on('open', () => {
      if (this.state === 'stopped') return; // stop() closes this socket
      this.enter('handshaking');
      this.send({
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        name: this.options.name,
        token: this.options.token,
        version: AGENT_VERSION,
        os: `${os.platform()} ${os.release()} ${os.arch()}`,
        labels: this.options.labels ?? [],
        capacity: this.options.capacity ?? 1000,
        running: [...this.runs.entries()].map(([run, r]) => ({ run, nextSeq: r.nextSeq })),
      });
    });
    ws.on('message', (data) => this.onFrame(data.toString()));
    ws.on('error', (e) => this.log(`connection error: ${e.message}`));
    ws.on('close', (code, reason) => this.onClose(code, reason.toString()));
  }

  private send(m: AgentMessage): void {
    // Until the master welcomes us it knows none of our runs: their frames stay unacked and are
    // resent after the welcome.
    if (m.type !== 'hello' && this.state !== 'ready') return;
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    const text = JSON.stringify(m);
    this.ws.send(text);
    this.stats.sent(Buffer.byteLength(text));
  }

  /**
   * A piece of a command's output, in the encoding the welcome allows. `sent` is called once the
   * socket no longer reads the chunk's frame: ws masks a copy, but may write the frame itself when
   * the mask it drew is zero, or queue it, so its buffer is reused only after ws's callback.
   */
  private sendOutput(chunk: OutputChunk, sent?: () => void): void {
    if (!this.binaryOutput || this.state !== 'ready' || this.ws?.readyState !== WebSocket.OPEN) {
      if (!this.binaryOutput && chunk.stream !== 'file') this.send({ ...chunk, data: chunk.data.toString('base64') });
      sent?.();
      return;
    }
    const frame = chunk.frame ?? encodeOutputFrame(chunk.run, chunk.seq, chunk.stream, chunk.data);
    this.ws.send(frame, () => {
      sent?.();
      // Written: ws's masked copy and the pipe reads the frame was made of are garbage now.
      this.options.reclaimer?.read(frame.length);
    });
    this.stats.sent(frame.length);
  }

  private onFrame(raw: string): void {
    // Stopping: nothing more is sent, and no message can change that.
    if (this.state === 'stopped') return;
    this.lastHeard = Date.now();
    const parsed = parseMasterMessage(raw);
    if (!parsed.ok) {
      this.log(`bad frame from master: ${parsed.error}`);
      this.ws?.close(1008, closeReason(parsed.error));
      return;
    }
    this.onMessage(parsed.message);
  }

  private onMessage(m: MasterMessage): void {
    switch (m.type) {
      case 'welcome': {
        if (this.state !== 'handshaking') return this.protocolError(`welcome while ${this.state}`);
        this.enter('ready');
        this.reconnectAttempt = 0;
        this.graceMs = m.graceMs;
        this.binaryOutput = m.protocol >= BINARY_OUTPUT_PROTOCOL_VERSION;
        if (this.graceTimer) clearTimeout(this.graceTimer);
        this.graceTimer = null;
        const resume = new Set(m.resume);
        for (const [id, runner] of this.runs) {
          if (resume.has(id)) runner.resend();
          else runner.abandon();
        }
        this.log(
          `connected to ${this.options.master}${resume.size > 0 ? ` (resumed ${resume.size} command${resume.size === 1 ? '' : 's'})` : ''}`,
        );
        this.startWatchdog(m.heartbeatMs);
        for (const w of this.readyWaiters.splice(0)) w.resolve();
        return;
      }
      case 'reject': {
        if (this.state !== 'handshaking') return this.protocolError(`reject while ${this.state}`);
        // The code decides, never the text: retryable refusals wait for the master's close and reconnect.
        if (REJECT_RETRYABLE[m.code]) {
          this.log(`master refused us for now (${m.code}): ${m.reason}`);
          return;
        }
        this.log(`master refused us (${m.code}): ${m.reason}; not retrying`);
        const refused = new AgentRefusedError(this.options.name, m.code, m.reason);
        for (const w of this.readyWaiters.splice(0)) w.reject(refused);
        void this.stop();
        return;
      }
      case 'run': {
        if (this.state !== 'ready' || this.runs.has(m.run)) return;
        const runner = new CommandRunner(m, {
          basedir: this.options.basedir,
          windowBytes: this.windowBytes,
          killGraceMs: this.options.killGraceMs ?? 3000,
          send: (msg) => this.send(msg),
          sendOutput: (chunk, sent) => this.sendOutput(chunk, sent),
          frames: this.frames,
          onDone: (id) => this.runs.delete(id),
          launcher: this.launcher,
          resources: this.resources,
          onExit: (exit) => this.stats.commandEnded(exit),
        });
        this.runs.set(m.run, runner);
        this.stats.commandsStarted++;
        if (m.after === undefined) runner.start();
        else {
          // The next step's command, sent while the step before runs: it starts the moment that one exits 0.
          const before = this.runs.get(m.after);
          runner.startAfter(before instanceof CommandRunner ? before : null);
        }
        return;
      }
      case 'upload': {
        if (this.state !== 'ready' || this.runs.has(m.run)) return;
        const runner = new UploadRunner(m, this.transferOptions());
        this.runs.set(m.run, runner);
        runner.start();
        return;
      }
      case 'download':
        if (this.state !== 'ready' || this.runs.has(m.run)) return;
        this.runs.set(m.run, new DownloadRunner(m, this.transferOptions()));
        return;
      case 'data':
      case 'end': {
        // Frames of a download this agent no longer has (it ended, or was abandoned) are dropped.
        const runner = this.runs.get(m.run);
        if (!(runner instanceof DownloadRunner)) return;
        if (m.type === 'data') runner.data(m);
        else runner.end(m);
        return;
      }
      case 'cancel':
        this.runs.get(m.run)?.cancel();
        return;
      case 'ack':
        this.runs.get(m.run)?.ack(m.seq);
        return;
      case 'ping':
        this.send({ type: 'pong' });
        return;
      default: {
        const never: never = m;
        this.log(`unexpected message ${JSON.stringify(never)}`);
      }
    }
  }

  private transferOptions() {
    return {
      basedir: this.options.basedir,
      windowBytes: TRANSFER_WINDOW_BYTES,
      send: (msg: AgentMessage) => this.send(msg),
      onDone: (id: string) => this.runs.delete(id),
    };
  }

  /** Moves to `next`, checking the state it leaves: a wrong one is a bug here, so it throws. */
  private enter(next: AgentState): void {
    const from: readonly AgentState[] = ENTERED_FROM[next];
    if (!from.includes(this.state)) throw new Error(`agent ${this.options.name}: cannot go from ${this.state} to ${next}`);
    this.state = next;
  }

  /** The master sent a valid message at the wrong time: drop the connection (and reconnect), as for a bad frame. */
  private protocolError(why: string): void {
    this.log(`master broke the protocol: ${why}`);
    this.ws?.close(1008, closeReason(why));
  }

  private startWatchdog(heartbeatMs: number): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastHeard > heartbeatMs * 3) {
        this.log('no heartbeat from the master; reconnecting');
        this.ws?.terminate();
      }
    }, heartbeatMs);
  }

  private onClose(code: number, reason: string): void {
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.state === 'stopped') {
      for (const r of this.runs.values()) r.cancel();
      return;
    }
    // Commands keep running through a short disconnect; past the master's grace period it has given
    // up on them, so they are killed.
    if (this.runs.size > 0 && !this.graceTimer) {
      this.graceTimer = setTimeout(() => {
        this.graceTimer = null;
        for (const r of this.runs.values()) r.abandon();
      }, this.graceMs);
    }
    this.enter('disconnected');
    // Back off (with jitter, so many agents do not reconnect in step) up to maxBackoffMs.
    const delayMs = backoffDelay(this.reconnectAttempt++, { initialMs: 500, maxMs: this.options.maxBackoffMs ?? 10_000, jitter: 0.25 });
    this.log(`disconnected (${code}${reason ? `: ${reason}` : ''}); retrying in ${delayMs} ms`);
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }
}
