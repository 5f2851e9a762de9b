/**
 * The janitor's reads and removals, in batches so no transaction holds a table for long and a
 * 10 000-build backlog goes in many small steps. Each removal is idempotent: run twice, or by two
 * masters at once, it removes what is there once. Metric points are never touched (they keep only a
 * build number, no key that would take them with a build).
 */
import type { DataSource, EntityManager, SelectQueryBuilder } from 'typeorm';
import { transaction } from '../db/transaction.ts';

export interface ExpiredLogs {
  logs: number;
  chunks: number;
  /** Bytes of chunks as stored (compressed). */
  storedBytes: number;
}

/** Rows of a plain COUNT/SUM are strings on PostgreSQL (bigint), numbers on SQLite. */
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

export class RetentionRepo {
  constructor(private readonly source: DataSource) {}

  /** Logs (kept so far) of builds that finished before `cutoff`. */
  private logsBefore(q: SelectQueryBuilder<object>, cutoff: number): SelectQueryBuilder<object> {
    return q
      .from('logs', 'l')
      .innerJoin('steps', 's', 's.id = l.stepid')
      .innerJoin('builds', 'b', 'b.id = s.buildid')
      .where('b.complete_at IS NOT NULL AND b.complete_at < :cutoff AND l.expired_at IS NULL', { cutoff });
  }

  /** What expireLogs(cutoff) would remove. */
  async countLogs(cutoff: number): Promise<ExpiredLogs> {
    const logs = await this.logsBefore(this.source.createQueryBuilder().select('COUNT(*)', 'n'), cutoff).getRawOne<{ n: unknown }>();
    const chunks = await this.logsBefore(
      this.source.createQueryBuilder().select('COUNT(c.id)', 'n').addSelect('SUM(LENGTH(c.content))', 'bytes'),
      cutoff,
    )
      .innerJoin('logchunks', 'c', 'c.logid = l.id')
      .getRawOne<{ n: unknown; bytes: unknown }>();
    return { logs: num(logs?.n), chunks: num(chunks?.n), storedBytes: num(chunks?.bytes) };
  }

  /**
   * Removes the chunks of up to `batch` logs of builds finished before `cutoff` and marks the logs
   * expired at `now`, in one transaction; what it removed (logs: 0 when none were left).
   */
  async expireLogs(cutoff: number, now: number, batch: number): Promise<ExpiredLogs> {
    return transaction(this.source, async (em) => {
      const rows = await this.logsBefore(em.createQueryBuilder().select('l.id', 'id'), cutoff)
        .orderBy('l.id')
        .limit(batch)
        .getRawMany<{ id: unknown }>();
      const ids = rows.map((r) => num(r.id));
      if (ids.length === 0) return { logs: 0, chunks: 0, storedBytes: 0 };
      const sizes = await em
        .createQueryBuilder()
        .select('COUNT(*)', 'n')
        .addSelect('SUM(LENGTH(c.content))', 'bytes')
        .from('logchunks', 'c')
        .where('c.logid IN (:...ids)', { ids })
        .getRawOne<{ n: unknown; bytes: unknown }>();
      await em.createQueryBuilder().delete().from('logchunks').where('logid IN (:...ids)', { ids }).execute();
      await em.createQueryBuilder().update('logs').set({ expired_at: now }).where('id IN (:...ids)', { ids }).execute();
      return { logs: ids.length, chunks: num(sizes?.n), storedBytes: num(sizes?.bytes) };
    });
  }

  /** Up to `limit` builds finished before `cutoff`, oldest first. */
  async buildsBefore(cutoff: number, limit: number): Promise<number[]> {
    const rows = await this.source
      .createQueryBuilder()
      .select('b.id', 'id')
      .from('builds', 'b')
      .where('b.complete_at IS NOT NULL AND b.complete_at < :cutoff', { cutoff })
      .orderBy('b.id')
      .limit(limit)
      .getRawMany<{ id: unknown }>();
    return rows.map((r) => num(r.id));
  }

  async countBuilds(cutoff: number): Promise<number> {
    const row = await this.source
      .createQueryBuilder()
      .select('COUNT(*)', 'n')
      .from('builds', 'b')
      .where('b.complete_at IS NOT NULL AND b.complete_at < :cutoff', { cutoff })
      .getRawOne<{ n: unknown }>();
    return num(row?.n);
  }

  /**
   * Removes a build: its steps, logs and chunks go with it (foreign keys), its reporter deliveries
   * that are done, and its request when no other build of that request is kept (a retried request
   * has several) — and with the request the links to its changes. The artifacts' files are removed
   * before this by the caller (removeBuildArtifacts), their rows go with the build.
   */
  async removeBuild(buildid: number): Promise<void> {
    await transaction(this.source, async (em) => {
      const build = await em
        .createQueryBuilder()
        .select('b.buildrequestid', 'rid')
        .from('builds', 'b')
        .where('b.id = :buildid', { buildid })
        .getRawOne<{ rid: unknown }>();
      if (!build) return;
      const rid = num(build.rid);
      await em
        .createQueryBuilder()
        .delete()
        .from('reporter_outbox')
        .where("buildid = :buildid AND state <> 'pending'", { buildid })
        .execute();
      await em.createQueryBuilder().delete().from('builds').where('id = :buildid', { buildid }).execute();
      await removeRequestIfDone(em, rid);
    });
  }

  /**
   * Changes stored before `cutoff` that nothing kept uses: no kept build built them, no request still
   * to run wants them, and no change scheduler holds them. Up to `limit`.
   */
  private changesBefore(q: SelectQueryBuilder<object>, cutoff: number): SelectQueryBuilder<object> {
    const usedByKeptBuild =
      'SELECT 1 FROM buildrequest_changes bc INNER JOIN builds b ON b.buildrequestid = bc.buildrequestid WHERE bc.changeid = c.id';
    const usedByQueuedRequest =
      'SELECT 1 FROM buildrequest_changes bc INNER JOIN buildrequests r ON r.id = bc.buildrequestid WHERE bc.changeid = c.id AND r.complete = :incomplete';
    return q
      .from('changes', 'c')
      .where(
        `c.created_at < :cutoff AND c.waiting = :notWaiting AND NOT EXISTS (${usedByKeptBuild}) AND NOT EXISTS (${usedByQueuedRequest})`,
        {
          cutoff,
          notWaiting: false,
          incomplete: false,
        },
      );
  }

  async countChanges(cutoff: number): Promise<number> {
    const row = await this.changesBefore(this.source.createQueryBuilder().select('COUNT(*)', 'n'), cutoff).getRawOne<{ n: unknown }>();
    return num(row?.n);
  }

  /** Removes up to `batch` such changes (their links to finished requests go with them); how many. */
  async removeChanges(cutoff: number, batch: number): Promise<number> {
    return transaction(this.source, async (em) => {
      const rows = await this.changesBefore(em.createQueryBuilder().select('c.id', 'id'), cutoff)
        .orderBy('c.id')
        .limit(batch)
        .getRawMany<{ id: unknown }>();
      const ids = rows.map((r) => num(r.id));
      if (ids.length > 0) await em.createQueryBuilder().delete().from('changes').where('id IN (:...ids)', { ids }).execute();
      return ids.length;
    });
  }
}

/** A finished request none of whose builds is kept goes; its change links cascade with it. */
async function removeRequestIfDone(em: EntityManager, buildrequestid: number): Promise<void> {
  const left = await em
    .createQueryBuilder()
    .select('COUNT(*)', 'n')
    .from('builds', 'b')
    .where('b.buildrequestid = :buildrequestid', { buildrequestid })
    .getRawOne<{ n: unknown }>();
  if (num(left?.n) > 0) return;
  await em
    .createQueryBuilder()
    .delete()
    .from('buildrequests')
    .where('id = :buildrequestid AND complete = :complete', { buildrequestid, complete: true })
    .execute();
}
