import type { DataSource, Repository } from 'typeorm';
import { resultOrNull, type StepRow } from './entities.ts';
import { parseCollectionQuery, type FieldMap } from './collection-query.ts';
import { rawBool, rawCollectionQuery, rawTime, type RawRow } from './raw-collection-query.ts';
import { plainSql, type PlainSql } from './plain-sql.ts';

export const stepFields: FieldMap = {
  stepid: { column: 'id', type: 'int' },
  buildid: { column: 'buildid', type: 'int' },
  number: { column: 'number', type: 'int' },
  name: { column: 'name', type: 'string' },
  started_at: { column: 'started_at', type: 'time' },
  complete_at: { column: 'complete_at', type: 'time' },
  results: { column: 'results', type: 'int' },
};

const STEP_COLUMNS = [
  'id',
  'buildid',
  'number',
  'name',
  'started_at',
  'complete_at',
  'results',
  'state_string',
  'hidden',
] as const satisfies readonly (keyof StepRow)[];

/** A plain row of STEP_COLUMNS as a StepRow. */
function stepRow(r: RawRow): StepRow {
  return {
    id: Number(r.id),
    buildid: Number(r.buildid),
    number: Number(r.number),
    name: String(r.name),
    started_at: rawTime(r.started_at),
    complete_at: rawTime(r.complete_at),
    results: resultOrNull.from(r.results),
    state_string: String(r.state_string),
    hidden: rawBool(r.hidden),
  };
}

export class StepsRepo {
  private readonly repo: Repository<StepRow>;
  /** Every step's create and updates: plain statements, one text each (see plain-sql.ts). */
  private readonly sql: PlainSql;
  constructor(private readonly source: DataSource) {
    this.repo = source.getRepository<StepRow>('Step');
    this.sql = plainSql(source);
  }

  async create(values: { buildid: number; number: number; name: string; started_at: number }): Promise<StepRow> {
    const row = { ...values, complete_at: null, results: null, state_string: 'running', hidden: false };
    return { ...row, id: await this.sql.insertReturningId('steps', row) };
  }

  async update(id: number, values: Partial<Pick<StepRow, 'state_string' | 'results' | 'complete_at' | 'hidden'>>): Promise<void> {
    await this.sql.updateById('steps', id, values);
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

  /** A page of steps (the API's collection query), read as plain rows. */
  async query(raw: Record<string, unknown>, scope: { buildid?: number } = {}): Promise<{ rows: StepRow[]; total: number }> {
    const q = parseCollectionQuery(raw, stepFields);
    const page = await rawCollectionQuery(this.source, 'steps', STEP_COLUMNS, stepFields, q, { field: 'number', desc: false }, scope);
    return { rows: page.rows.map(stepRow), total: page.total };
  }
}
