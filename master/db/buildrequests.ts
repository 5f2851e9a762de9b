import { In, type DataSource, type Repository } from 'typeorm';
import type { BuildRequestRow } from './entities.ts';
import type { Result } from '../../core/results.ts';
import { scopedCollectionQuery, type FieldMap } from './collection-query.ts';
import { transaction } from './transaction.ts';

export const buildRequestFields: FieldMap = {
  buildrequestid: { column: 'id', type: 'int' },
  builderid: { column: 'builderid', type: 'int' },
  priority: { column: 'priority', type: 'int' },
  submitted_at: { column: 'submitted_at', type: 'time' },
  claimed_at: { column: 'claimed_at', type: 'time' },
  claimed_by_masterid: { column: 'claimed_by_masterid', type: 'int' },
  complete: { column: 'complete', type: 'bool' },
  complete_at: { column: 'complete_at', type: 'time' },
  results: { column: 'results', type: 'int' },
  reason: { column: 'reason', type: 'string' },
  parent_buildid: { column: 'parent_buildid', type: 'int' },
};

/**
 * Build requests. A request's life: unclaimed -> claimed by one master (atomic conditional update,
 * so masters sharing a database never both take it) -> complete with a result. A claim can be
 * released (agent lost, build to be retried), which puts the request back in the queue.
 */
export class BuildRequestsRepo {
  private readonly repo: Repository<BuildRequestRow>;
  constructor(private readonly source: DataSource) {
    this.repo = source.getRepository<BuildRequestRow>('BuildRequest');
  }

  /** A new request; with `changeids`, linked to the changes it builds in the same transaction. */
  create(
    values: {
      builderid: number;
      reason: string;
      properties: Record<string, unknown>;
      priority?: number;
      changeids?: number[];
      parentBuildid?: number | null;
    },
    now: number,
  ): Promise<BuildRequestRow> {
    const row = {
      builderid: values.builderid,
      reason: values.reason,
      properties: JSON.stringify(values.properties),
      priority: values.priority ?? 0,
      submitted_at: now,
      complete: false,
      parent_buildid: values.parentBuildid ?? null,
    };
    const changeids = values.changeids ?? [];
    if (changeids.length === 0) return this.repo.save(row, { transaction: false });
    return transaction(this.source, async (m) => {
      const saved = await m.getRepository<BuildRequestRow>('BuildRequest').save(row, { transaction: false });
      await m.insert(
        'buildrequest_changes',
        changeids.map((changeid) => ({ buildrequestid: saved.id, changeid })),
      );
      return saved;
    });
  }

  get(id: number): Promise<BuildRequestRow | null> {
    return this.repo.findOneBy({ id });
  }

  /** Those of these requests that are complete. */
  completedAmong(ids: number[]): Promise<BuildRequestRow[]> {
    return ids.length === 0 ? Promise.resolve([]) : this.repo.findBy({ id: In(ids), complete: true });
  }

  /**
   * What the claimer should try next: of each of `builderids`, its `perBuilder` oldest unclaimed
   * requests (highest priority first), all of them oldest first within priority. Per builder, so
   * that however many requests a builder that cannot run has queued, the others' are still seen.
   * Read without locks: claim() is what makes taking one atomic.
   */
  unclaimed(builderids: readonly number[], perBuilder: number): Promise<BuildRequestRow[]> {
    if (builderids.length === 0 || perBuilder < 1) return Promise.resolve([]);
    // ROW_NUMBER() over each builder's queue: PostgreSQL and SQLite (3.25+) both have it.
    const ranked = this.source
      .createQueryBuilder()
      .select('q.id', 'id')
      .addSelect('ROW_NUMBER() OVER (PARTITION BY q.builderid ORDER BY q.priority DESC, q.submitted_at ASC, q.id ASC)', 'place')
      .from('buildrequests', 'q')
      .where('q.complete = :incomplete AND q.claimed_by_masterid IS NULL AND q.builderid IN (:...builderids)', {
        incomplete: false,
        builderids,
      });
    return this.repo
      .createQueryBuilder('r')
      .where(`r.id IN (SELECT ranked.id FROM (${ranked.getQuery()}) ranked WHERE ranked.place <= :perBuilder)`)
      .setParameters({ ...ranked.getParameters(), perBuilder })
      .orderBy('r.priority', 'DESC')
      .addOrderBy('r.submitted_at', 'ASC')
      .addOrderBy('r.id', 'ASC')
      .getMany();
  }

  /**
   * True when this master got the request; false when another claimed it first (or it was
   * cancelled). On PostgreSQL the row is locked with SKIP LOCKED, so masters claiming at once
   * never wait on each other's row: the one that holds it wins, the others move on.
   */
  async claim(id: number, masterid: number, now: number): Promise<boolean> {
    const free = 'claimed_by_masterid IS NULL AND complete = :incomplete';
    const update = this.source.createQueryBuilder().update('buildrequests').set({ claimed_by_masterid: masterid, claimed_at: now });
    const result =
      this.source.options.type === 'postgres'
        ? await update
            .where(`id = (SELECT id FROM buildrequests WHERE id = :id AND ${free} FOR UPDATE SKIP LOCKED)`, { id, incomplete: false })
            .execute()
        : await update.where(`id = :id AND ${free}`, { id, incomplete: false }).execute();
    return result.affected === 1;
  }

  /**
   * Completes a request no master has claimed with `results` (a user cancelled it). The same
   * condition as claim(), in one statement: of a cancel and a claim at once, exactly one wins.
   * True when this call completed it.
   */
  async completeUnclaimed(id: number, results: Result, now: number): Promise<boolean> {
    const result = await this.source
      .createQueryBuilder()
      .update('buildrequests')
      .set({ complete: true, complete_at: now, results })
      .where('id = :id AND claimed_by_masterid IS NULL AND complete = :incomplete', { id, incomplete: false })
      .execute();
    return result.affected === 1;
  }

  async unclaim(id: number): Promise<void> {
    await this.repo.update({ id, complete: false }, { claimed_by_masterid: null, claimed_at: null });
  }

  async complete(id: number, results: Result, now: number): Promise<void> {
    await this.repo.update({ id }, { complete: true, complete_at: now, results });
  }

  /** Requests this master claimed but never finished (it died): each is completed or released. */
  claimedIncomplete(masterid: number): Promise<BuildRequestRow[]> {
    return this.repo.findBy({ claimed_by_masterid: masterid, complete: false });
  }

  query(raw: Record<string, unknown>): Promise<{ rows: BuildRequestRow[]; total: number }> {
    return scopedCollectionQuery(this.repo, buildRequestFields, raw, { field: 'buildrequestid', desc: false });
  }
}
