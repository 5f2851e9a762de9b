/**
 * Durable spool for points an external store could not take: batches of line protocol in the
 * `metric_spool` table, oldest first, deleted only once delivered.
 */
import { IsNull, type DataSource, type FindOptionsWhere, type Repository } from 'typeorm';
import { z } from 'zod';
import type { MetricSpoolRow } from '../../master/db/index.ts';

export class MetricSpool {
  private readonly repo: Repository<MetricSpoolRow>;

  /**
   * `owner`: the master (its `masters` row) whose batches these are. A master re-sends only its own
   * (and ownerless ones from before owners were kept): rollup rows must arrive in their writer's order.
   */
  constructor(
    source: DataSource,
    private readonly owner: number | null = null,
  ) {
    this.repo = source.getRepository<MetricSpoolRow>('MetricSpool');
  }

  private get mine(): FindOptionsWhere<MetricSpoolRow>[] {
    return this.owner === null ? [{ owner: IsNull() }] : [{ owner: this.owner }, { owner: IsNull() }];
  }

  /** `points`: how many of the lines are points (the rest are rollup rows that count them). */
  async add(lines: string[], now: number, points = lines.length): Promise<void> {
    await this.repo.insert({ lines: lines.join('\n'), points, created_at: now, owner: this.owner });
  }

  oldest(limit: number): Promise<MetricSpoolRow[]> {
    return this.repo.find({ where: this.mine, order: { id: 'ASC' }, take: limit });
  }

  async remove(id: number): Promise<void> {
    await this.repo.delete({ id });
  }

  async pendingPoints(): Promise<number> {
    // PostgreSQL's SUM of an integer column is a bigint, handed back as a string.
    const raw = z
      .object({ n: z.union([z.number(), z.string()]) })
      .parse(await this.repo.createQueryBuilder('s').select('COALESCE(SUM(s.points), 0)', 'n').getRawOne());
    return Number(raw.n);
  }
}
