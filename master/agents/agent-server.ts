/**
 * Accepts agent WebSockets on `/agents`. A connection is a handshake until its `hello` is checked
 * (protocol version, name, token); only then does it become an AgentSession. Anything else first,
 * a bad token, or silence for `handshakeMs` is refused: `reject {code, retryable, reason}` (see
 * protocol/reject-codes.ts), then a close. Agents of MIN_PROTOCOL_VERSION up to PROTOCOL_VERSION are
 * welcomed (the welcome names the agent's own protocol; its session sends it nothing newer); an
 * agent older than that gets the reject it can parse.
 * One connection per agent name: the name is claimed in the same turn as the hello is checked, before
 * anything is awaited, so of simultaneous hellos one is welcomed and the others get `already_connected`.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../core/logger.ts';
import { tokensEqual } from './auth.ts';
import { closeReason } from '../../protocol/close-reason.ts';
import { AgentSession, CLOSE_PROTOCOL_ERROR, type Corkable } from './agent-session.ts';
import {
  MAX_FRAME_BYTES,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  helloProtocolOf,
  parseAgentMessage,
  rejectMessage,
  type LegacyRejectMessage,
  type MasterMessage,
  type RejectMessage,
} from '../../protocol/messages.ts';
import { RejectCode } from '../../protocol/reject-codes.ts';
import { HeartbeatWheel } from './heartbeat-wheel.ts';

/** Failed authentications allowed per peer address per minute before it is refused outright for a minute. */
export const MAX_FAILED_HANDSHAKES = 20;
const WINDOW_MS = 60_000;

/** What the handshake asks of the agent registry: who is configured, and who is connected now. */
export interface AgentDirectory {
  config(name: string): { token: string } | undefined;
  get(name: string): { handle: { connected: boolean } } | undefined;
}

export interface AgentServerOptions {
  heartbeatMs: number;
  missedHeartbeats: number;
  handshakeMs?: number;
  graceMs: number;
  /**
   * Registers the session; returns the runs of `running` the agent should resume. The server holds
   * the agent's name until it settles and then answers `welcome`; it should attach the session
   * before its first await (agent-registration.ts awaits nothing), so that a close meanwhile
   * detaches it as any close does, and no frame to the agent precedes its welcome.
   */
  onSession(
    session: AgentSession,
    hello: { os: string; version: string; labels: string[]; capacity: number },
    running: string[],
  ): Promise<string[]>;
}

export class AgentServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  /** Failed handshakes per peer address in the current window (token guessing is slowed to a crawl). */
  private readonly failures = new Map<string, { count: number; since: number }>();
  /** Names whose hello was accepted and whose registration has not settled: claimed, as if connected. */
  private readonly admitting = new Set<string>();
  /** The sessions' heartbeats; a new wheel if the period changes (sessions keep the one they joined). */
  private wheel: HeartbeatWheel | null = null;

  constructor(
    private readonly registry: AgentDirectory,
    private readonly log: Logger,
    private readonly options: AgentServerOptions,
  ) {}

  /** Takes over `/agents` upgrades on the HTTP server; returns false for other paths. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/agents') return false;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.handshake(ws, req.socket.remoteAddress ?? '?', socket));
    return true;
  }

  private get heartbeats(): HeartbeatWheel {
    if (this.wheel?.periodMs !== this.options.heartbeatMs) this.wheel = new HeartbeatWheel(this.options.heartbeatMs);
    return this.wheel;
  }

  close(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }

  private handshake(ws: WebSocket, peer: string, socket: Corkable): void {
    // Without a listener, a frame over maxPayload would be an unhandled 'error' event: a master crash.
    ws.on('error', (e) => this.log.warn('agent socket error', { peer, error: e.message }));
    const now = Date.now();
    let record = this.failures.get(peer);
    if (record && now - record.since > WINDOW_MS) {
      this.failures.delete(peer);
      record = undefined;
    }
    if (record && record.count >= MAX_FAILED_HANDSHAKES) {
      return refuse(ws, rejectMessage(RejectCode.RateLimited, `too many failed handshakes from ${peer}; try again in a minute`));
    }
    const reject = (code: RejectCode, reason: string) => {
      this.log.warn('agent handshake refused', { peer, code, reason });
      // Only failed authentications count: they are what a token guesser produces.
      if (code === RejectCode.BadCredentials) {
        const r = this.failures.get(peer) ?? { count: 0, since: now };
        r.count++;
        this.failures.set(peer, r);
        if (this.failures.size > 10_000) this.failures.clear(); // bounded memory under a flood
      }
      refuse(ws, rejectMessage(code, reason));
    };
    const timer = setTimeout(() => reject(RejectCode.HandshakeTimeout, 'no hello in time'), this.options.handshakeMs ?? 10_000);
    ws.once('close', () => clearTimeout(timer));
    ws.once('message', (data, isBinary) => {
      clearTimeout(timer);
      if (isBinary) return reject(RejectCode.ProtocolError, 'binary frames are not part of the protocol');
      const raw = data.toString();
      const protocol = helloProtocolOf(raw);
      if (protocol !== null && protocol < MIN_PROTOCOL_VERSION) {
        // An older agent cannot parse this version's reject: answer in the shape it knows, so it stops and says why.
        const reason = `protocol ${protocol} not supported: this master speaks protocol ${PROTOCOL_VERSION}; upgrade the agent`;
        this.log.warn('agent handshake refused', { peer, code: RejectCode.VersionMismatch, reason });
        return refuse(ws, { type: 'reject', reason });
      }
      const parsed = parseAgentMessage(raw);
      if (!parsed.ok) return reject(RejectCode.ProtocolError, parsed.error);
      const hello = parsed.message;
      if (hello.type !== 'hello') return reject(RejectCode.ProtocolError, `"${hello.type}" before hello: not authenticated`);
      if (hello.protocol > PROTOCOL_VERSION)
        return reject(
          RejectCode.VersionMismatch,
          `protocol ${hello.protocol} not supported: this master speaks protocol ${PROTOCOL_VERSION}; upgrade the master`,
        );
      const config = this.registry.config(hello.name);
      // Same answer for an unknown name and a wrong token: a prober learns nothing.
      if (!config || !tokensEqual(hello.token, config.token)) return reject(RejectCode.BadCredentials, 'unknown agent or wrong token');
      // Checked and claimed in this same turn: no other hello is handled in between.
      if (this.admitting.has(hello.name) || this.registry.get(hello.name)?.handle.connected)
        return reject(RejectCode.AlreadyConnected, `agent "${hello.name}" is already connected`);
      this.admitting.add(hello.name);
      const { heartbeatMs, missedHeartbeats } = this.options;
      const session = new AgentSession(hello.name, ws, this.log, heartbeatMs, missedHeartbeats, hello.protocol, this.heartbeats, socket);
      const info = { os: hello.os, version: hello.version, labels: hello.labels, capacity: hello.capacity };
      this.options
        .onSession(
          session,
          info,
          hello.running.map((r) => r.run),
        )
        .finally(() => this.admitting.delete(hello.name))
        .then(
          (resume) =>
            session.welcome({
              type: 'welcome',
              protocol: hello.protocol,
              heartbeatMs: this.options.heartbeatMs,
              graceMs: this.options.graceMs,
              resume,
            }),
          (e: unknown) => {
            this.log.error('agent registration failed', { agent: hello.name, error: String(e) });
            send(ws, rejectMessage(RejectCode.MasterError, 'master error'));
            session.close('master error');
          },
        );
    });
  }
}

function send(ws: WebSocket, m: MasterMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
}

/** Answers a hello with a refusal and closes; the close reason repeats it for tools that only see the close. */
function refuse(ws: WebSocket, m: RejectMessage | LegacyRejectMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
  ws.close(CLOSE_PROTOCOL_ERROR, closeReason(m.reason));
}
