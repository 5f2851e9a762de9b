import { In, type DataSource, type Repository } from 'typeorm';
import type { ChangeRow } from './entities.ts';
import { runCollectionQuery, parseCollectionQuery, scopedCollectionQuery, type FieldMap } from './collection-query.ts';
import type { ChangeInput } from '../changes/change.ts';
import { transaction } from './transaction.ts';
import { insertedId } from './inserted-id.ts';

export const changeFields: FieldMap = {
  changeid: { column: 'id', type: 'int' },
  repository: { column: 'repository', type: 'string' },
  branch: { column: 'branch', type: 'string' },
  revision: { column: 'revision', type: 'string' },
  author: { column: 'author', type: 'string' },
  comments: { column: 'comments', type: 'string' },
  project: { column: 'project', type: 'string' },
  category: { column: 'category', type: 'string' },
  when_timestamp: { column: 'when_timestamp', type: 'time' },
  created_at: { column: 'created_at', type: 'time' },
};

/** Changes, and which build requests build them (a request can build several, a change feed several builders). */
export class ChangesRepo {
  private readonly repo: Repository<ChangeRow>;
  constructor(private readonly source: DataSource) {
    this.repo = source.getRepository<ChangeRow>('Change');
  }

  /** Stores every change or none (one transaction), in order; `masterid` is the master storing them. */
  async createMany(changes: ChangeInput[], now: number, masterid: number | null = null): Promise<ChangeRow[]> {
    return transaction(this.source, async (m) => {
      const rows: ChangeRow[] = [];
      for (const change of changes) rows.push(await this.insert(m.getRepository<ChangeRow>('Change'), change, now, masterid));
      return rows;
    });
  }

  /** Marks changes held (or no longer held) by a change scheduler's tree-stable timer. */
  async setWaiting(ids: number[], waiting: boolean): Promise<void> {
    if (ids.length > 0) await this.repo.update({ id: In(ids) }, { waiting });
  }

  /** Changes this master's schedulers were holding when it last stopped without submitting them (a kill). */
  waitingOf(masterid: number): Promise<ChangeRow[]> {
    return this.repo.find({ where: { masterid, waiting: true }, order: { id: 'ASC' } });
  }

  private async insert(repo: Repository<ChangeRow>, change: ChangeInput, now: number, masterid: number | null): Promise<ChangeRow> {
    const row = {
      repository: change.repository,
      branch: change.branch ?? null,
      revision: change.revision,
      author: change.author,
      comments: change.comments,
      files: JSON.stringify(change.files),
      properties: JSON.stringify(change.properties ?? {}),
      project: change.project,
      category: change.category ?? null,
      when_timestamp: change.when_timestamp === undefined ? now : Math.round(change.when_timestamp * 1000),
      created_at: now,
      masterid,
      waiting: false,
    };
    const result = await repo.insert({ ...row });
    return { ...row, id: insertedId(result) };
  }

  get(id: number): Promise<ChangeRow | null> {
    return this.repo.findOneBy({ id });
  }

  query(raw: Record<string, unknown>): Promise<{ rows: ChangeRow[]; total: number }> {
    return scopedCollectionQuery(this.repo, changeFields, raw, { field: 'changeid', desc: false });
  }

  /** The build requests that build a change, oldest first (the inverse of ofBuildRequest). */
  async requestIdsOf(changeid: number): Promise<number[]> {
    const rows = await this.source
      .createQueryBuilder()
      .select('l.buildrequestid', 'buildrequestid')
      .from('buildrequest_changes', 'l')
      .where('l.changeid = :c', { c: changeid })
      .orderBy('l.buildrequestid', 'ASC')
      .getRawMany<{ buildrequestid: number | string }>();
    // PostgreSQL's driver may hand integers back as text.
    return rows.map((r) => Number(r.buildrequestid));
  }

  /** The changes a build request builds, oldest first. */
  ofBuildRequest(buildrequestid: number, raw: Record<string, unknown> = {}): Promise<{ rows: ChangeRow[]; total: number }> {
    const qb = this.repo
      .createQueryBuilder('t')
      .innerJoin('buildrequest_changes', 'l', 'l.changeid = t.id')
      .where('l.buildrequestid = :r', { r: buildrequestid });
    return runCollectionQuery(qb, 't', changeFields, parseCollectionQuery(raw, changeFields), { field: 'changeid', desc: false });
  }
}
