/**
 * Accepts agent WebSockets on `/agents`. A connection is a handshake until its `hello` is checked
 * (protocol version, name, token); only then does it become an AgentSession. Anything else first,
 * a bad token, or silence for `handshakeMs` closes it.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../core/logger.ts';
import { tokensEqual } from './auth.ts';
import { closeReason } from '../../protocol/close-reason.ts';
import type { AgentRegistry } from './agent-registry.ts';
import { AgentSession, CLOSE_PROTOCOL_ERROR } from './agent-session.ts';
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, parseAgentMessage, type MasterMessage } from '../../protocol/messages.ts';

/** Failed authentications allowed per peer address per minute before it is refused outright for a minute. */
export const MAX_FAILED_HANDSHAKES = 20;
const WINDOW_MS = 60_000;

export interface AgentServerOptions {
  heartbeatMs: number;
  missedHeartbeats: number;
  handshakeMs?: number;
  graceMs: number;
  /** Registers the session; returns the runs of `running` the agent should resume. */
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

  constructor(
    private readonly registry: AgentRegistry,
    private readonly log: Logger,
    private readonly options: AgentServerOptions,
  ) {}

  /** Takes over `/agents` upgrades on the HTTP server; returns false for other paths. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/agents') return false;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.handshake(ws, req.socket.remoteAddress ?? '?'));
    return true;
  }

  close(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }

  private handshake(ws: WebSocket, peer: string): void {
    // Without a listener, a frame over maxPayload would be an unhandled 'error' event: a master crash.
    ws.on('error', (e) => this.log.warn('agent socket error', { peer, error: e.message }));
    const now = Date.now();
    let record = this.failures.get(peer);
    if (record && now - record.since > WINDOW_MS) {
      this.failures.delete(peer);
      record = undefined;
    }
    if (record && record.count >= MAX_FAILED_HANDSHAKES) {
      const reason = `too many failed handshakes from ${peer}; try again in a minute`;
      send(ws, { type: 'reject', reason });
      ws.close(CLOSE_PROTOCOL_ERROR, closeReason(reason));
      return;
    }
    const reject = (reason: string, authFailure = false) => {
      this.log.warn('agent handshake refused', { peer, reason });
      if (authFailure) {
        const r = this.failures.get(peer) ?? { count: 0, since: now };
        r.count++;
        this.failures.set(peer, r);
        if (this.failures.size > 10_000) this.failures.clear(); // bounded memory under a flood
      }
      send(ws, { type: 'reject', reason });
      ws.close(CLOSE_PROTOCOL_ERROR, closeReason(reason));
    };
    const timer = setTimeout(() => reject('no hello in time'), this.options.handshakeMs ?? 10_000);
    ws.once('close', () => clearTimeout(timer));
    ws.once('message', (data, isBinary) => {
      clearTimeout(timer);
      if (isBinary) return reject('binary frames are not part of the protocol');
      const parsed = parseAgentMessage(data.toString());
      if (!parsed.ok) return reject(parsed.error);
      const hello = parsed.message;
      if (hello.type !== 'hello') return reject(`"${hello.type}" before hello: not authenticated`);
      if (hello.protocol !== PROTOCOL_VERSION)
        return reject(`protocol ${hello.protocol} not supported (master speaks ${PROTOCOL_VERSION})`);
      const config = this.registry.config(hello.name);
      // Same answer for an unknown name and a wrong token: a prober learns nothing.
      if (!config || !tokensEqual(hello.token, config.token)) return reject('unknown agent or wrong token', true);
      if (this.registry.get(hello.name)?.handle.connected) return reject(`agent "${hello.name}" is already connected`);
      const session = new AgentSession(hello.name, ws, this.log, this.options.heartbeatMs, this.options.missedHeartbeats);
      const info = { os: hello.os, version: hello.version, labels: hello.labels, capacity: hello.capacity };
      this.options
        .onSession(
          session,
          info,
          hello.running.map((r) => r.run),
        )
        .then((resume) =>
          send(ws, {
            type: 'welcome',
            protocol: PROTOCOL_VERSION,
            heartbeatMs: this.options.heartbeatMs,
            graceMs: this.options.graceMs,
            resume,
          }),
        )
        .catch((e: unknown) => {
          this.log.error('agent registration failed', { agent: hello.name, error: String(e) });
          session.close('master error');
        });
    });
  }
}

function send(ws: WebSocket, m: MasterMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
}
