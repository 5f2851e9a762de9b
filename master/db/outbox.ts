/**
 * The reporter outbox's rows (see master/reporters/outbox.ts for the delivery rules). A row's life:
 * pending -> (leased by one master while it delivers; the lease ends on success, failure or expiry)
 * -> delivered | failed. A pending row is due when its `next_attempt_at` has passed, and it is the
 * head of its (reporter, build) when no pending row of the same build and reporter comes before it.
 */
import type { DataSource, Repository } from 'typeorm';
import type { ReporterOutboxRow } from './entities.ts';
import { transaction } from './transaction.ts';

export interface NewDelivery {
  reporter: string;
  buildid: number;
  payload: string;
  delivery_id: string;
}

export class OutboxRepo {
  private readonly repo: Repository<ReporterOutboxRow>;
  constructor(private readonly source: DataSource) {
    this.repo = source.getRepository<ReporterOutboxRow>('ReporterOutbox');
  }

  /**
   * Stores deliveries in the order given, each after the last one stored for its (reporter, build).
   * One build's events come from the one master that runs it, one at a time, so the numbering does not
   * race; the unique index on (reporter, buildid, seq) would refuse it if it did.
   */
  async enqueue(deliveries: readonly NewDelivery[], now: number): Promise<void> {
    if (deliveries.length === 0) return;
    await transaction(this.source, async (em) => {
      const repo = em.getRepository<ReporterOutboxRow>('ReporterOutbox');
      for (const d of deliveries) {
        const last = await repo.findOne({
          select: { seq: true },
          where: { reporter: d.reporter, buildid: d.buildid },
          order: { seq: 'DESC' },
        });
        await repo.insert({
          ...d,
          seq: (last?.seq ?? 0) + 1,
          state: 'pending',
          attempts: 0,
          next_attempt_at: now,
          claimed_by_masterid: null,
          claimed_until: null,
          delivered_at: null,
          failed_at: null,
          last_error: null,
          created_at: now,
        });
      }
    });
  }

  /** Whether a delivery is stored: what an enqueue whose answer was lost may have left. */
  async has(deliveryId: string): Promise<boolean> {
    return (await this.repo.countBy({ delivery_id: deliveryId })) > 0;
  }

  /**
   * The reporter's due heads, not leased by anyone, oldest first: at most one per build. Read without
   * locks; claim() is what makes taking one atomic.
   */
  dueHeads(reporter: string, now: number, limit: number): Promise<ReporterOutboxRow[]> {
    return this.repo
      .createQueryBuilder('o')
      .where("o.reporter = :reporter AND o.state = 'pending' AND o.next_attempt_at <= :now", { reporter, now })
      .andWhere('(o.claimed_until IS NULL OR o.claimed_until < :now)', { now })
      .andWhere(
        "NOT EXISTS (SELECT 1 FROM reporter_outbox p WHERE p.reporter = o.reporter AND p.buildid = o.buildid AND p.state = 'pending' AND p.seq < o.seq)",
      )
      .orderBy('o.id', 'ASC')
      .take(limit)
      .getMany();
  }

  /**
   * Leases a pending row to `masterid` until `until`; true when this master got it. One conditional
   * update: of masters claiming at once, exactly one wins (PostgreSQL re-checks the condition on
   * the row another claim just changed).
   */
  async claim(id: number, masterid: number, now: number, until: number): Promise<boolean> {
    const result = await this.source
      .createQueryBuilder()
      .update('reporter_outbox')
      .set({ claimed_by_masterid: masterid, claimed_until: until })
      .where("id = :id AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < :now)", { id, now })
      .execute();
    return result.affected === 1;
  }

  async delivered(id: number, attempts: number, now: number): Promise<void> {
    await this.finish(id, { state: 'delivered', delivered_at: now, attempts });
  }

  /** A permanent failure: kept (with its error) for a look, never tried again. */
  async failed(id: number, attempts: number, now: number, error: string): Promise<void> {
    await this.finish(id, { state: 'failed', failed_at: now, attempts, last_error: error });
  }

  /** A failed try: the lease ends, the row waits until `nextAttemptAt`. */
  async retryLater(id: number, attempts: number, nextAttemptAt: number, error: string): Promise<void> {
    await this.repo.update(
      { id, state: 'pending' },
      { attempts, next_attempt_at: nextAttemptAt, last_error: error, claimed_by_masterid: null, claimed_until: null },
    );
  }

  /** Ends this master's leases (at start-up after a crash, and at stop): the rows are due again at once. */
  async releaseClaims(masterid: number): Promise<void> {
    await this.repo.update({ claimed_by_masterid: masterid, state: 'pending' }, { claimed_by_masterid: null, claimed_until: null });
  }

  /** Deletes rows delivered or failed before `before`; returns how many. */
  async deleteFinishedBefore(before: number): Promise<number> {
    const result = await this.source
      .createQueryBuilder()
      .delete()
      .from('reporter_outbox')
      .where("(state = 'delivered' AND delivered_at < :before) OR (state = 'failed' AND failed_at < :before)", { before })
      .execute();
    return result.affected ?? 0;
  }

  /** Every row of a reporter, oldest first (for tests and operators). */
  ofReporter(reporter: string): Promise<ReporterOutboxRow[]> {
    return this.repo.find({ where: { reporter }, order: { id: 'ASC' } });
  }

  private async finish(id: number, values: Partial<ReporterOutboxRow>): Promise<void> {
    await this.repo.update({ id, state: 'pending' }, { ...values, claimed_by_masterid: null, claimed_until: null });
  }
}
