/**
 * Live updates for the web UI on `/ws`: build, step and agent events go to every client; a log's
 * new output goes to the clients that subscribed to it (`{"type":"subscribe","logs":[id,…]}`).
 *
 * Anyone who reaches the port may connect (reads need no token), so what the stream holds is bounded
 * whatever clients do:
 * - at most `maxClients` connections, counting those still closing; the next upgrade is answered 503;
 * - each event is serialized once and the same Buffer is written to every recipient: a log's output is
 *   never copied per client;
 * - a client with more than `maxBufferedBytes` that its socket has not taken yet is too slow: it is
 *   closed (1013) instead of being buffered for; the UI reconnects and reloads what it shows;
 * - a client's subscriptions (at most MAX_LOG_SUBSCRIPTIONS logs) leave the index when it is dropped or
 *   goes away, and the client itself when its socket is gone.
 * Nothing here waits on a client: the log path (the build's) pays one serialization and one write per
 * subscriber.
 *
 * A client's states:
 *   open ──too slow, or a message that is not a subscription──▶ closing ──socket gone──▶ gone
 *   open ──peer closes, socket error, master stops──▶ gone
 * Only open clients are sent to and indexed. A closing client that does not answer the close (it is
 * not reading) is terminated after CLOSE_TIMEOUT_MS.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { z } from 'zod';
import type { DomainEvents, EventBus, EventName } from '../events/event-bus.ts';
import type { RemoteEvent } from '../events/pg-fanout.ts';

/** The UI sends at most this many log ids too (frontend/src/live.ts). */
export const MAX_LOG_SUBSCRIPTIONS = 100;
/** A subscription of 100 ids is under 2 KiB. */
const MAX_MESSAGE_BYTES = 64 * 1024;
const CLOSE_TIMEOUT_MS = 5000;
const CloseCode = { policyViolation: 1008, tryAgainLater: 1013 } as const;
const SUBSCRIBE_EXPECTED = 'expected {"type":"subscribe","logs":[ids]}';

export interface LiveStreamOptions {
  /** Clients connected at once (those closing included); past it an upgrade is refused with 503. */
  maxClients?: number;
  /** Bytes waiting to be sent to one client past which it is dropped as too slow. */
  maxBufferedBytes?: number;
}
export const liveStreamDefaults = { maxClients: 256, maxBufferedBytes: 1024 * 1024 } satisfies Required<LiveStreamOptions>;

const BROADCAST = [
  'build.started',
  'build.finished',
  'step.started',
  'step.finished',
  'agent.connected',
  'agent.disconnected',
  'buildrequest.new',
  'buildrequest.complete',
  'change.new',
  'master.reconfigured',
] as const satisfies readonly EventName[];
const subscribeMessage = z.strictObject({
  type: z.literal('subscribe'),
  logs: z.array(z.number().int().positive()).max(MAX_LOG_SUBSCRIPTIONS),
});

interface Client {
  readonly ws: WebSocket;
  /** The logs it follows; emptied when it is dropped. */
  logs: ReadonlySet<number>;
}

type LogPiece = Pick<DomainEvents['log.appended'], 'logid' | 'stepid' | 'first_line' | 'stream'>;

export class LiveStream {
  private readonly wss = new WebSocketServer({ noServer: true, clientTracking: false, maxPayload: MAX_MESSAGE_BYTES });
  /** Every connection until its socket is gone. */
  private readonly clients = new Set<Client>();
  /** Log id → the open clients following it. */
  private readonly subscribers = new Map<number, Set<Client>>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly maxClients: number;
  private readonly maxBufferedBytes: number;
  private readonly tooSlow: string;

  constructor(bus: EventBus, options: LiveStreamOptions = {}) {
    this.maxClients = options.maxClients ?? liveStreamDefaults.maxClients;
    this.maxBufferedBytes = options.maxBufferedBytes ?? liveStreamDefaults.maxBufferedBytes;
    this.tooSlow = `too slow: more than ${this.maxBufferedBytes} bytes waiting to be sent; reconnect and reload`;
    for (const name of BROADCAST) this.unsubscribe.push(bus.subscribe(name, (data) => this.deliver(this.clients, name, data)));
    this.unsubscribe.push(bus.subscribe('log.appended', (e) => this.logAppended(e, () => e.data.toString('utf8'))));
  }

  /** Connections held, those closing included (tests check that closed clients leave nothing). */
  get clientCount(): number {
    return this.clients.size;
  }

  /** Log subscriptions held over all clients. */
  get subscriptionCount(): number {
    let n = 0;
    for (const set of this.subscribers.values()) n += set.size;
    return n;
  }

  /** What another master sharing the database reported (see events/pg-fanout.ts). */
  remote(event: RemoteEvent): void {
    switch (event.name) {
      case 'log.appended':
        return this.logAppended(event.data, () => event.data.text);
      case 'log.gap':
        return this.deliver(this.subscribers.get(event.data.logid) ?? [], event.name, event.data);
      case 'build.started':
      case 'build.finished':
      case 'step.started':
      case 'step.finished':
      case 'agent.connected':
      case 'agent.disconnected':
      case 'buildrequest.new':
      case 'buildrequest.complete':
      case 'change.new':
        return this.deliver(this.clients, event.name, event.data);
      case 'agent.available':
      case 'build.stop':
        return; // not for the UI
      default: {
        const never: never = event;
        return never;
      }
    }
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if ((req.url ?? '').split('?')[0] !== '/ws') return false;
    if (this.clients.size >= this.maxClients) {
      refuse(socket, `too many live clients (at most ${this.maxClients}); try again later`);
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    return true;
  }

  close(): void {
    this.unsubscribe.forEach((u) => u());
    this.subscribers.clear();
    for (const c of this.clients) c.ws.terminate();
    this.wss.close();
  }

  private accept(ws: WebSocket): void {
    const client: Client = { ws, logs: new Set() };
    this.clients.add(client);
    ws.on('error', () => ws.terminate()); // 'close' follows
    ws.on('close', () => {
      this.unindex(client);
      this.clients.delete(client);
    });
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
  }

  /** A subscription replaces the client's previous one; anything else drops the client. */
  private onMessage(client: Client, data: RawData, isBinary: boolean): void {
    if (client.ws.readyState !== client.ws.OPEN) return;
    const parsed = isBinary ? null : parseSubscription(rawText(data));
    if (!parsed) return this.drop(client, CloseCode.policyViolation, SUBSCRIBE_EXPECTED);
    this.unindex(client);
    client.logs = new Set(parsed.logs);
    for (const logid of client.logs) {
      let set = this.subscribers.get(logid);
      if (!set) this.subscribers.set(logid, (set = new Set()));
      set.add(client);
    }
  }

  /** Decodes the piece only when someone follows the log. */
  private logAppended(piece: LogPiece, text: () => string): void {
    const recipients = this.subscribers.get(piece.logid);
    if (!recipients) return;
    const { logid, stepid, first_line, stream } = piece;
    this.deliver(recipients, 'log.appended', { logid, stepid, first_line, stream, text: text() });
  }

  /**
   * Serializes the event once, on the first client that takes it, and writes that Buffer to each open
   * recipient; recipients over their bound are dropped instead (after the loop: dropping edits the set).
   */
  private deliver(recipients: Iterable<Client>, event: string, data: unknown): void {
    let frame: Buffer | null = null;
    let slow: Client[] | null = null;
    for (const c of recipients) {
      if (c.ws.readyState !== c.ws.OPEN) continue;
      if (c.ws.bufferedAmount > this.maxBufferedBytes) {
        (slow ??= []).push(c);
        continue;
      }
      frame ??= Buffer.from(JSON.stringify({ type: 'event', event, data }));
      c.ws.send(frame, { binary: false });
    }
    for (const c of slow ?? []) this.drop(c, CloseCode.tryAgainLater, this.tooSlow);
  }

  /** Stops sending to the client and frees its subscriptions now; it leaves `clients` when its socket is gone. */
  private drop(client: Client, code: number, reason: string): void {
    this.unindex(client);
    client.ws.close(code, reason);
    // A client that does not read never answers the close; ws would hold its socket 30 s.
    setTimeout(() => client.ws.terminate(), CLOSE_TIMEOUT_MS).unref();
  }

  private unindex(client: Client): void {
    for (const logid of client.logs) {
      const set = this.subscribers.get(logid);
      set?.delete(client);
      if (set?.size === 0) this.subscribers.delete(logid);
    }
    client.logs = new Set();
  }
}

function parseSubscription(text: string): z.infer<typeof subscribeMessage> | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = subscribeMessage.safeParse(json);
  return parsed.success ? parsed.data : null;
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)).toString('utf8');
}

/** Answers the upgrade with 503 before any WebSocket exists: a refused client costs nothing more. */
function refuse(socket: Duplex, reason: string): void {
  socket.on('error', () => socket.destroy());
  socket.end(
    `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(reason)}\r\nRetry-After: 10\r\n\r\n${reason}`,
  );
}
