/**
 * Durable spool for points an external store could not take: batches of line protocol in the
 * `metric_spool` table, oldest first, deleted only once delivered.
 */
import type { DataSource, Repository } from 'typeorm';
import type { MetricSpoolRow } from '../../master/db/entities.ts';

export class MetricSpool {
  private readonly repo: Repository<MetricSpoolRow>;

  constructor(source: DataSource) {
    this.repo = source.getRepository<MetricSpoolRow>('MetricSpool');
  }

  /** `points`: how many of the lines are points (the rest are rollup rows that count them). */
  async add(lines: string[], now: number, points = lines.length): Promise<void> {
    await this.repo.insert({ lines: lines.join('\n'), points, created_at: now });
  }

  oldest(limit: number): Promise<MetricSpoolRow[]> {
    return this.repo.find({ order: { id: 'ASC' }, take: limit });
  }

  async remove(id: number): Promise<void> {
    await this.repo.delete({ id });
  }

  async pendingPoints(): Promise<number> {
    const raw = (await this.repo.createQueryBuilder('s').select('COALESCE(SUM(s.points), 0)', 'n').getRawOne()) as { n: string | number };
    return Number(raw.n);
  }
}
