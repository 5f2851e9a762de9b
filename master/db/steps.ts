import type { DataSource, Repository } from 'typeorm';
import type { StepRow } from './entities.ts';
import { scopedCollectionQuery, type FieldMap } from './collection-query.ts';
import { insertedId } from './inserted-id.ts';

export const stepFields: FieldMap = {
  stepid: { column: 'id', type: 'int' },
  buildid: { column: 'buildid', type: 'int' },
  number: { column: 'number', type: 'int' },
  name: { column: 'name', type: 'string' },
  started_at: { column: 'started_at', type: 'time' },
  complete_at: { column: 'complete_at', type: 'time' },
  results: { column: 'results', type: 'int' },
};

export class StepsRepo {
  private readonly repo: Repository<StepRow>;
  constructor(source: DataSource) {
    this.repo = source.getRepository<StepRow>('Step');
  }

  async create(values: { buildid: number; number: number; name: string; started_at: number }): Promise<StepRow> {
    // insert(), not save(): save() reads the row back, a second round trip on every step.
    const row = { ...values, complete_at: null, results: null, state_string: 'running', hidden: false };
    const result = await this.repo.insert({ ...row }); // a copy: insert() merges RETURNING values into it
    return { ...row, id: insertedId(result) };
  }

  async update(id: number, values: Partial<Pick<StepRow, 'state_string' | 'results' | 'complete_at' | 'hidden'>>): Promise<void> {
    await this.repo.update({ id }, values);
  }

  /** Step `number` of a build, if stored: what a create() whose answer was lost made. */
  async ofBuild(buildid: number, number: number): Promise<StepRow | undefined> {
    return (await this.repo.findOneBy({ buildid, number })) ?? undefined;
  }

  get(id: number): Promise<StepRow | null> {
    return this.repo.findOneBy({ id });
  }

  /** Steps left unfinished by a master that died. */
  incompleteOfBuild(buildid: number): Promise<StepRow[]> {
    return this.repo.createQueryBuilder('s').where('s.buildid = :b AND s.complete_at IS NULL', { b: buildid }).getMany();
  }

  query(raw: Record<string, unknown>, scope: { buildid?: number } = {}): Promise<{ rows: StepRow[]; total: number }> {
    return scopedCollectionQuery(this.repo, stepFields, raw, { field: 'number', desc: false }, scope);
  }
}
