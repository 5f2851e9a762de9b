/**
 * The reporters' durable outbox. What it promises:
 * - at least once: a delivery is stored (master/db/outbox.ts) before anyone tries it, and marked
 *   delivered only after the reporter returned; a master that dies in between delivers it again;
 * - in order per (reporter, build): only the oldest pending row of a build is ever tried, so a
 *   build's `finished` never overtakes its `started`; different builds go side by side;
 * - retried with backoff (core/retry.ts, capped at `backoff.maxMs`) for as long as it takes; a
 *   reporter's `PermanentDeliveryError` (or a stored payload that no longer reads as a report) marks
 *   the row failed, kept and logged, never retried;
 * - several masters sharing a database: a row is leased to one master while it delivers it; a lease
 *   left by a master that died expires (`leaseMs`), and a restarted master ends its own at once.
 * Finished rows are kept `retentionMs` (a week), then deleted.
 *
 * States: created -> running (start) -> stopping (stop: no new claims, deliveries under way get
 * `stopGraceMs`) -> stopped. One worker loop per reporter while running.
 */
import { randomUUID } from 'node:crypto';
import { Backoff, backoffDelay, type BackoffOptions } from '../../core/retry.ts';
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/error-message.ts';
import { InvalidJsonError } from '../../core/parse-json.ts';
import type { ReporterOutboxRow } from '../db/entities.ts';
import type { OutboxRepo } from '../db/outbox.ts';
import { writeThroughOutage } from '../db/outage-write.ts';
import { PermanentDeliveryError, type BuildReport, type Reporter } from './reporter.ts';
import { parseBuildReport } from './build-report.ts';

export interface OutboxOptions {
  repo: Pick<
    OutboxRepo,
    'enqueue' | 'has' | 'dueHeads' | 'claim' | 'delivered' | 'failed' | 'retryLater' | 'releaseClaims' | 'deleteFinishedBefore'
  >;
  reporters: readonly Reporter[];
  masterid: number;
  log: Logger;
  now?: () => number;
  /** Delay between tries of one delivery: default 1 s doubling to 5 minutes. */
  backoff?: BackoffOptions;
  /** How often a worker with nothing due looks again (rows of other masters, retries that came due). */
  pollMs?: number;
  /** How long a claimed row is this master's; a delivery that takes longer is abandoned and tried again. */
  leaseMs?: number;
  /** Deliveries tried at once per reporter (of different builds). */
  concurrency?: number;
  retentionMs?: number;
  /** At stop, how long deliveries under way may still finish. */
  stopGraceMs?: number;
}

export const DEFAULT_OUTBOX_BACKOFF: Readonly<BackoffOptions> = { initialMs: 1000, maxMs: 5 * 60_000, factor: 2, jitter: 0.2 };
const WEEK_MS = 7 * 24 * 3600_000;
const CLEANUP_EVERY_MS = 3600_000;

type State = 'created' | 'running' | 'stopping' | 'stopped';

export class Outbox {
  private state: State = 'created';
  private readonly loops: Promise<void>[] = [];
  /** Wakes a worker that waits for work, by reporter name. */
  private readonly wakers = new Map<string, () => void>();
  private readonly now: () => number;
  private readonly backoff: BackoffOptions;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly concurrency: number;
  private readonly retentionMs: number;
  private readonly stopGraceMs: number;

  constructor(private readonly options: OutboxOptions) {
    this.now = options.now ?? Date.now;
    this.backoff = options.backoff ?? DEFAULT_OUTBOX_BACKOFF;
    this.pollMs = options.pollMs ?? 1000;
    // Long enough for a reporter that rides out a rate limit (githubStatus waits up to two minutes).
    this.leaseMs = options.leaseMs ?? 5 * 60_000;
    this.concurrency = options.concurrency ?? 8;
    this.retentionMs = options.retentionMs ?? WEEK_MS;
    this.stopGraceMs = options.stopGraceMs ?? 3000;
    const names = options.reporters.map((r) => r.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw new Error(`two reporters are named "${twice}"`);
  }

  /** Starts one worker per reporter; leases this master held when it died end first. */
  async start(): Promise<void> {
    this.transition('created', 'running');
    if (this.options.reporters.length === 0) return;
    await this.options.repo.releaseClaims(this.options.masterid);
    for (const reporter of this.options.reporters) this.loops.push(this.work(reporter));
  }

  /**
   * Stores one delivery per reporter named, all or none, in the order given (the order events
   * happened in). Rides through a database that blinks; each delivery gets its id here.
   */
  async enqueue(buildid: number, deliveries: readonly { reporter: string; report: BuildReport }[]): Promise<void> {
    if (deliveries.length === 0) return;
    const rows = deliveries.map((d) => ({ reporter: d.reporter, buildid, payload: JSON.stringify(d.report), delivery_id: randomUUID() }));
    const first = rows[0]?.delivery_id ?? '';
    await writeThroughOutage(
      async () => {
        await this.options.repo.enqueue(rows, this.now());
        return true;
      },
      // All or none were stored: the first one tells.
      { landed: async () => ((await this.options.repo.has(first)) ? true : undefined) },
    );
    for (const d of deliveries) this.wakers.get(d.reporter)?.();
  }

  /** Stops claiming; deliveries under way get the grace period; this master's leases end. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    for (const wake of this.wakers.values()) wake();
    if (wasRunning) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.stopGraceMs)));
      await Promise.race([Promise.all(this.loops), grace]);
      clearTimeout(timer);
      // A delivery still under way is abandoned: its row is tried again (by this master after a
      // restart, or by another), which at least once allows.
      await this.options.repo.releaseClaims(this.options.masterid).catch(() => undefined);
    }
    this.state = 'stopped';
  }

  private get running(): boolean {
    return this.state === 'running';
  }

  private transition(from: State, to: State): void {
    if (this.state !== from) throw new Error(`outbox: cannot go ${from} -> ${to} while ${this.state}`);
    this.state = to;
  }

  /** One reporter's worker: claim due heads, deliver them side by side, again; wait when none is due. */
  private async work(reporter: Reporter): Promise<void> {
    const { repo, log, masterid } = this.options;
    const trouble = new Backoff({ initialMs: 500, maxMs: 30_000 });
    let lastCleanup = 0;
    while (this.running) {
      try {
        if (this.now() - lastCleanup > CLEANUP_EVERY_MS) {
          lastCleanup = this.now();
          const deleted = await repo.deleteFinishedBefore(this.now() - this.retentionMs);
          if (deleted > 0) log.info('reporter outbox: old deliveries deleted', { deleted });
        }
        const now = this.now();
        const claimed: ReporterOutboxRow[] = [];
        for (const row of await repo.dueHeads(reporter.name, now, this.concurrency)) {
          if (await repo.claim(row.id, masterid, now, now + this.leaseMs)) claimed.push(row);
        }
        trouble.reset();
        if (claimed.length === 0) await this.idle(reporter.name, this.pollMs);
        else await Promise.all(claimed.map((row) => this.deliverOne(reporter, row)));
      } catch (e) {
        // The database is away: look again later, nothing is lost (rows stay pending).
        if (!this.running) break;
        log.warn('reporter outbox: reading deliveries failed', { reporter: reporter.name, error: errorMessage(e) });
        await this.idle(reporter.name, trouble.next());
      }
    }
  }

  /** Tries one row once and records what happened; never throws. */
  private async deliverOne(reporter: Reporter, row: ReporterOutboxRow): Promise<void> {
    const { repo, log } = this.options;
    const attempts = row.attempts + 1;
    try {
      const report = parseBuildReport(row.payload);
      await this.withinLease(reporter.deliver({ id: row.delivery_id, attempt: attempts, report }));
      await repo.delivered(row.id, attempts, this.now());
    } catch (e) {
      const message = errorMessage(e);
      try {
        if (e instanceof PermanentDeliveryError || e instanceof InvalidJsonError) {
          log.error('reporter: delivery failed for good', {
            reporter: reporter.name,
            build: row.buildid,
            delivery: row.delivery_id,
            error: message,
          });
          await repo.failed(row.id, attempts, this.now(), message);
        } else {
          const delayMs = backoffDelay(attempts - 1, this.backoff);
          if (attempts === 1 || attempts % 10 === 0)
            log.warn('reporter: delivery failed, will retry', {
              reporter: reporter.name,
              build: row.buildid,
              attempts,
              delayMs,
              error: message,
            });
          await repo.retryLater(row.id, attempts, this.now() + delayMs, message);
        }
      } catch (recordError) {
        // The lease runs out and the row is tried again: at least once.
        if (this.running)
          log.warn('reporter outbox: recording a try failed', { reporter: reporter.name, error: errorMessage(recordError) });
      }
    }
  }

  /** A delivery that outlives its lease would be tried by another master meanwhile: give up on it first. */
  private withinLease(delivery: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`delivery took longer than ${this.leaseMs / 2} ms`)), this.leaseMs / 2);
    });
    return Promise.race([delivery, timeout]).finally(() => clearTimeout(timer));
  }

  /** Waits `ms`, or less when an enqueue or stop wakes this reporter's worker. */
  private idle(reporter: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakers.set(reporter, done);
    });
  }
}
