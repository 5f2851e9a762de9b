/**
 * Masters sharing a PostgreSQL database tell each other what happens, with LISTEN/NOTIFY on one
 * channel: each forwards its domain events (builds, steps, requests, agents, changes, log output) and
 * hands the others' to `onRemote` (the live stream, the request claimer), so a web UI open on any
 * master shows every master's builds live, and a request submitted on one is claimed at once by
 * another. A stop request for a build that another master runs is forwarded the same way.
 *
 * Remote events are delivered apart from the local bus on purpose: metrics and Prometheus count the
 * builds their own master ran, and must not count another master's twice.
 * NOTIFY carries at most 8000 bytes: a log chunk too big for it is forwarded without its text, as a
 * gap, and the UI re-reads the log's tail. Events sent while the listening connection is down (a
 * PostgreSQL restart) are lost to this master; it reconnects with a growing delay, and the UI reloads
 * on its own reconnects; the claimer's slow poll covers requests.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { DomainEvents, EventBus, EventName } from './event-bus.ts';
import type { Logger } from '../logger.ts';

export const CHANNEL = 'caliper_events';
const FORWARD = [
  'build.started',
  'build.finished',
  'step.started',
  'step.finished',
  'buildrequest.new',
  'buildrequest.complete',
  'agent.connected',
  'agent.disconnected',
  'agent.available',
  'change.new',
] as const satisfies readonly EventName[];
/** Bytes of log text a notification may carry (NOTIFY's limit is 8000 bytes with the envelope). */
const MAX_LOG_TEXT = 6000;

type Forwarded = (typeof FORWARD)[number];
export type RemoteEvent =
  | { [K in Forwarded]: { name: K; data: DomainEvents[K] } }[Forwarded]
  | { name: 'log.appended'; data: { logid: number; stepid: number; stream: 'o' | 'e' | 'h'; first_line: number; text: string } }
  | { name: 'log.gap'; data: { logid: number } }
  | { name: 'build.stop'; data: { buildid: number; reason: string } };

interface Envelope {
  origin: string;
  event: RemoteEvent;
}

export class PgFanout {
  /** Tells this master's own notifications from the others'. */
  private readonly origin = randomUUID();
  private client: pg.Client | null = null;
  private stopped = false;
  private retryMs = 500;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly url: string,
    private readonly bus: EventBus,
    private readonly onRemote: (event: RemoteEvent) => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    for (const name of FORWARD) this.unsubscribe.push(this.bus.subscribe(name, (data) => this.send({ name, data } as RemoteEvent)));
    this.unsubscribe.push(
      this.bus.subscribe('log.appended', (e) =>
        this.send(
          e.data.length <= MAX_LOG_TEXT
            ? {
                name: 'log.appended',
                data: { logid: e.logid, stepid: e.stepid, stream: e.stream, first_line: e.first_line, text: e.data.toString('utf8') },
              }
            : { name: 'log.gap', data: { logid: e.logid } },
        ),
      ),
    );
    await this.connect();
  }

  /** Sends an event to the other masters (also used for requests such as `build.stop`). */
  send(event: RemoteEvent): void {
    const client = this.client;
    if (!client) return;
    const payload = JSON.stringify({ origin: this.origin, event } satisfies Envelope);
    if (Buffer.byteLength(payload) >= 8000) return; // cannot happen for the events above; never an error
    client
      .query('SELECT pg_notify($1, $2)', [CHANNEL, payload])
      .catch((e: unknown) => this.log.warn('could not notify other masters', { error: String(e) }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe.forEach((u) => u());
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (n) => this.receive(n.payload));
    client.on('error', (e) => this.lost(client, e));
    client.on('end', () => this.lost(client, null));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      this.lost(client, e);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    if (this.retryMs > 500) this.log.info('listening to other masters again');
    this.client = client;
    this.retryMs = 500;
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.stopped) return;
    if (this.client === client) this.client = null;
    if (this.retryTimer) return;
    this.log.warn('lost the connection that hears other masters; reconnecting', {
      error: error === null ? 'ended' : String(error),
      retryMs: this.retryMs,
    });
    void client.end().catch(() => {});
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 30_000);
  }

  private receive(payload: string | undefined): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload ?? '') as Envelope;
    } catch {
      this.log.warn('ignored a malformed notification on the masters channel', { payload: (payload ?? '').slice(0, 200) });
      return;
    }
    if (envelope.origin === this.origin || typeof envelope.event?.name !== 'string') return;
    this.onRemote(envelope.event);
  }
}
