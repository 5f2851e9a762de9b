import type { DataSource, Repository } from 'typeorm';
import type { ChangeRow } from './entities.ts';
import { runCollectionQuery, parseCollectionQuery, scopedCollectionQuery, type FieldMap } from './collection-query.ts';
import type { ChangeInput } from '../changes/change.ts';
import { transaction } from './transaction.ts';

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

  async create(change: ChangeInput, now: number): Promise<ChangeRow> {
    return (await this.createMany([change], now))[0] as ChangeRow;
  }

  /** Stores every change or none (one transaction), in order. */
  async createMany(changes: ChangeInput[], now: number): Promise<ChangeRow[]> {
    return transaction(this.source, async (m) => {
      const rows: ChangeRow[] = [];
      for (const change of changes) rows.push(await this.insert(m.getRepository<ChangeRow>('Change'), change, now));
      return rows;
    });
  }

  private async insert(repo: Repository<ChangeRow>, change: ChangeInput, now: number): Promise<ChangeRow> {
    const row = {
      repository: change.repository,
      branch: change.branch ?? null,
      revision: change.revision,
      author: change.author,
      comments: change.comments,
      files: JSON.stringify(change.files),
      project: change.project,
      category: change.category ?? null,
      when_timestamp: change.when_timestamp === undefined ? now : Math.round(change.when_timestamp * 1000),
      created_at: now,
    };
    const result = await repo.insert({ ...row });
    return { ...row, id: Number((result.identifiers[0] as { id: number }).id) };
  }

  get(id: number): Promise<ChangeRow | null> {
    return this.repo.findOneBy({ id });
  }

  query(raw: Record<string, unknown>): Promise<{ rows: ChangeRow[]; total: number }> {
    return scopedCollectionQuery(this.repo, changeFields, raw, { field: 'changeid', desc: false });
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
