/**
 * Masters sharing a PostgreSQL database tell each other what happens, with LISTEN/NOTIFY on one
 * channel: each forwards its domain events (builds, steps, requests, agents, changes, log output) and
 * hands the others' to `onRemote` (the live stream, the request claimer), so a web UI open on any
 * master shows every master's builds live, and a request submitted on one is claimed at once by
 * another. A stop request for a build that another master runs is forwarded the same way.
 *
 * Remote events are delivered apart from the local bus on purpose: metrics and Prometheus count the
 * builds their own master ran, and must not count another master's twice.
 * NOTIFY carries less than 8000 bytes: a log chunk too big for it (measured as sent, JSON escapes
 * included) is forwarded without its text, as a gap, and the UI re-reads the log's tail.
 * Any role that can connect to the database can NOTIFY on the channel: what arrives is validated, an
 * unknown or malformed event is ignored and logged, and never throws in the listener.
 * Events sent while the listening connection is down (a PostgreSQL restart) are lost to this master;
 * it reconnects with a growing delay (core/retry.ts; whatever the error: a listener has no other way
 * back), and the UI reloads on its own reconnects; the claimer's slow poll covers requests.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { z } from 'zod';
import type { DomainEvents, EventBus, EventName } from './event-bus.ts';
import type { Logger } from '../../core/logger.ts';
import { Backoff } from '../../core/retry.ts';

export const CHANNEL = 'caliper_events';
const BUILD_EVENTS = [
  'build.started',
  'build.finished',
  'step.started',
  'step.finished',
  'buildrequest.new',
  'buildrequest.complete',
] as const;
const AGENT_EVENTS = ['agent.connected', 'agent.disconnected', 'agent.available'] as const;
const FORWARD = [...BUILD_EVENTS, ...AGENT_EVENTS, 'change.new'] as const satisfies readonly EventName[];
/** NOTIFY refuses payloads of 8000 bytes or more. */
const MAX_PAYLOAD = 7900;

type Forwarded = (typeof FORWARD)[number];
/** What this master tells the others: its own events, typed as on its bus. */
export type OutgoingEvent =
  | { name: Forwarded; data: DomainEvents[Forwarded] }
  | { name: 'log.appended'; data: { logid: number; stepid: number; stream: 'o' | 'e' | 'h'; first_line: number; text: string } }
  | { name: 'log.gap'; data: { logid: number } }
  | { name: 'build.stop'; data: { buildid: number; reason: string } };

const id = z.number().int().nonnegative();
const envelopeSchema = z.object({
  origin: z.string(),
  event: z.discriminatedUnion('name', [
    z.object({ name: z.literal('change.new'), data: z.object({ changeid: id }) }),
    ...BUILD_EVENTS.map((name) =>
      z.object({ name: z.literal(name), data: z.looseObject({ buildid: id.optional(), buildrequestid: id.optional() }) }),
    ),
    ...AGENT_EVENTS.map((name) => z.object({ name: z.literal(name), data: z.object({ name: z.string() }) })),
    z.object({
      name: z.literal('log.appended'),
      data: z.object({ logid: id, stepid: id, stream: z.enum(['o', 'e', 'h']), first_line: id, text: z.string() }),
    }),
    z.object({ name: z.literal('log.gap'), data: z.object({ logid: id }) }),
    z.object({ name: z.literal('build.stop'), data: z.object({ buildid: id, reason: z.string().max(1000) }) }),
  ]),
});

/**
 * What another master told this one: known only as far as it was checked (any role that can
 * connect may NOTIFY), so a forwarded build event is a loose object with its ids checked.
 */
export type RemoteEvent = z.infer<typeof envelopeSchema>['event'];

export class PgFanout {
  /** Tells this master's own notifications from the others'. */
  private readonly origin = randomUUID();
  private client: pg.Client | null = null;
  /** The client being connected, so that a late event of an older client is not taken for a loss. */
  private connecting: pg.Client | null = null;
  private stopped = false;
  /** 0.5 s doubling to 30 s, with jitter: masters that lost PostgreSQL together do not return in step. */
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly url: string,
    /** Runs `SELECT pg_notify(channel, payload)` on the master's pool, not on the listening connection. */
    private readonly notify: (channel: string, payload: string) => Promise<unknown>,
    private readonly bus: EventBus,
    private readonly onRemote: (event: RemoteEvent) => void,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    for (const name of FORWARD) this.unsubscribe.push(this.bus.subscribe(name, (data) => void this.send({ name, data })));
    this.unsubscribe.push(
      this.bus.subscribe('log.appended', (e) => {
        const text = e.data.toString('utf8');
        void this.send({
          name: 'log.appended',
          data: { logid: e.logid, stepid: e.stepid, stream: e.stream, first_line: e.first_line, text },
        });
      }),
    );
    await this.connect();
  }

  /** Tells the other masters (events, and requests such as `build.stop`); false if it could not. */
  async send(event: OutgoingEvent): Promise<boolean> {
    let payload = JSON.stringify({ origin: this.origin, event } satisfies { origin: string; event: OutgoingEvent });
    if (Buffer.byteLength(payload) > MAX_PAYLOAD) {
      if (event.name !== 'log.appended') {
        this.log.warn('event too big to tell other masters; not sent', { event: event.name });
        return false;
      }
      payload = JSON.stringify({ origin: this.origin, event: { name: 'log.gap', data: { logid: event.data.logid } } } satisfies {
        origin: string;
        event: OutgoingEvent;
      });
    }
    try {
      await this.notify(CHANNEL, payload);
      return true;
    } catch (e) {
      this.log.warn('could not notify other masters', { event: event.name, error: String(e) });
      return false;
    }
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
    // TCP keepalive finds a connection a NAT or a failover left half-open; a connect never hangs.
    const client = new pg.Client({
      connectionString: this.url,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 10_000,
    });
    this.connecting = client;
    client.on('notification', (n) => this.receive(n.payload));
    client.on('error', (e) => this.lost(client, e));
    client.on('end', () => this.lost(client, null));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      this.lost(client, e);
      return;
    } finally {
      if (this.connecting === client) this.connecting = null;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    if (this.backoff.attempts > 0) this.log.info('listening to other masters again');
    this.client = client;
    this.backoff.reset();
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.stopped) return;
    // Only the current (or connecting) client's loss counts: a late event of an older one must not
    // open a second connection, which would deliver every event twice.
    if (this.client === client) this.client = null;
    else if (this.connecting !== client) return;
    if (this.retryTimer) return;
    const retryMs = this.backoff.next();
    this.log.warn('lost the connection that hears other masters; reconnecting', {
      error: error === null ? 'ended' : String(error),
      retryMs,
    });
    void client.end().catch(() => {});
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, retryMs);
  }

  private receive(payload: string | undefined): void {
    let envelope: z.infer<typeof envelopeSchema>;
    try {
      const parsed = envelopeSchema.safeParse(JSON.parse(payload ?? ''));
      if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? 'invalid');
      envelope = parsed.data;
    } catch (e) {
      this.log.warn('ignored a malformed notification on the masters channel', {
        error: e instanceof Error ? e.message : String(e),
        payload: (payload ?? '').slice(0, 200),
      });
      return;
    }
    if (envelope.origin === this.origin) return;
    try {
      this.onRemote(envelope.event);
    } catch (e) {
      this.log.error('handling a notification from another master failed', { event: envelope.event.name, error: String(e) });
    }
  }
}
