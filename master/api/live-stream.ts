/**
 * Live updates for the web UI on `/ws`: build, step and agent events go to every client; a log's
 * new output goes to the clients that subscribed to it (`{"type":"subscribe","logs":[id,…]}`).
 * A client too slow to keep up with a log (over `maxBufferedBytes` unsent) skips output and is sent
 * `log.gap`, so it re-reads the log's tail instead of the server buffering without bound.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import type { DomainEvents, EventBus, EventName } from '../events/event-bus.ts';
import type { RemoteEvent } from '../events/pg-fanout.ts';

const BROADCAST: EventName[] = [
  'build.started',
  'build.finished',
  'step.started',
  'step.finished',
  'agent.connected',
  'agent.disconnected',
  'buildrequest.new',
  'change.new',
];
const subscribeMessage = z.strictObject({ type: z.literal('subscribe'), logs: z.array(z.number().int().positive()).max(100) });

interface Client {
  ws: WebSocket;
  logs: Set<number>;
  lagging: Set<number>;
}

export class LiveStream {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly clients = new Set<Client>();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    bus: EventBus,
    private readonly maxBufferedBytes = 4 * 1024 * 1024,
  ) {
    for (const name of BROADCAST) this.unsubscribe.push(bus.subscribe(name, (data) => this.broadcast(name, data)));
    this.unsubscribe.push(bus.subscribe('log.appended', (e) => this.log(e, () => e.data.toString('utf8'))));
  }

  /** What another master sharing the database reported (see events/pg-fanout.ts). */
  remote(event: RemoteEvent): void {
    if (event.name === 'build.stop') return;
    if (event.name === 'log.appended') return this.log(event.data, () => event.data.text);
    if (event.name === 'log.gap') {
      for (const c of this.clients) if (c.logs.has(event.data.logid)) this.send(c, { type: 'event', event: 'log.gap', data: event.data });
      return;
    }
    if (BROADCAST.some((name) => name === event.name)) this.sendAll(event.name, event.data);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if ((req.url ?? '').split('?')[0] !== '/ws') return false;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
    return true;
  }

  close(): void {
    this.unsubscribe.forEach((u) => u());
    for (const c of this.clients) c.ws.terminate();
    this.wss.close();
  }

  private accept(ws: WebSocket): void {
    const client: Client = { ws, logs: new Set(), lagging: new Set() };
    this.clients.add(client);
    ws.on('error', () => ws.terminate());
    ws.on('close', () => this.clients.delete(client));
    ws.on('message', (data, isBinary) => {
      let parsed: z.infer<typeof subscribeMessage>;
      try {
        parsed = subscribeMessage.parse(JSON.parse(isBinary ? '' : data.toString()));
      } catch {
        ws.close(1008, 'expected {"type":"subscribe","logs":[ids]}');
        return;
      }
      client.logs = new Set(parsed.logs);
      client.lagging.clear();
    });
  }

  private send(client: Client, message: unknown): void {
    if (client.ws.readyState === client.ws.OPEN) client.ws.send(JSON.stringify(message));
  }

  private broadcast<K extends EventName>(event: K, data: DomainEvents[K]): void {
    this.sendAll(event, data);
  }

  /** Also for events of other masters, which arrive checked only as far as the fan-out checks them. */
  private sendAll(event: string, data: unknown): void {
    for (const c of this.clients) this.send(c, { type: 'event', event, data });
  }

  private log(e: Pick<DomainEvents['log.appended'], 'logid' | 'stepid' | 'first_line' | 'stream'>, decode: () => string): void {
    let text: string | null = null;
    for (const c of this.clients) {
      if (!c.logs.has(e.logid)) continue;
      if (c.ws.bufferedAmount > this.maxBufferedBytes) {
        c.lagging.add(e.logid);
        continue;
      }
      if (c.lagging.delete(e.logid)) this.send(c, { type: 'event', event: 'log.gap', data: { logid: e.logid } });
      text ??= decode();
      this.send(c, {
        type: 'event',
        event: 'log.appended',
        data: { logid: e.logid, stepid: e.stepid, first_line: e.first_line, stream: e.stream, text },
      });
    }
  }
}
