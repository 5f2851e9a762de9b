import { In, IsNull, type DataSource, type Repository } from 'typeorm';
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

  /** Oldest first within priority: what the claimer should try next. */
  unclaimed(limit = 100): Promise<BuildRequestRow[]> {
    return this.repo.find({
      where: { complete: false, claimed_by_masterid: IsNull() },
      order: { priority: 'DESC', submitted_at: 'ASC', id: 'ASC' },
      take: limit,
    });
  }

  /** True when this master got the request; false when another claimed it first. */
  async claim(id: number, masterid: number, now: number): Promise<boolean> {
    const result = await this.source
      .createQueryBuilder()
      .update('buildrequests')
      .set({ claimed_by_masterid: masterid, claimed_at: now })
      .where('id = :id AND claimed_by_masterid IS NULL AND complete = :f', { id, f: false })
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
