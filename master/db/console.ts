/**
 * The reads behind Buildbot's console, grid and waterfall views: a page of changes with every
 * request and build of theirs in one more query (not one per change or per builder), and the builds
 * that overlap a time window. The API layer (master/api/console.ts) shapes the answers.
 */
import type { DataSource, Repository } from 'typeorm';
import type { ChangeRow } from './entities.ts';
import { resultOrNull } from './entities.ts';
import type { Result } from '../../core/results.ts';
import { rawTime } from './raw-collection-query.ts';

/** A request that builds a change, and its build when one started (a rebuild or a retry gives several rows). */
export interface ConsoleCellRow {
  changeid: number;
  buildrequestid: number;
  builderid: number;
  request_complete: boolean;
  request_results: Result | null;
  buildid: number | null;
  number: number | null;
  started_at: number | null;
  complete_at: number | null;
  results: Result | null;
}

/** A build in a time window: what a waterfall bar needs. */
export interface TimelineBuildRow {
  buildid: number;
  builderid: number;
  number: number;
  started_at: number;
  complete_at: number | null;
  results: Result | null;
}

interface RawCell {
  changeid: number | string;
  buildrequestid: number | string;
  builderid: number | string;
  request_complete: boolean | number | string;
  request_results: number | string | null;
  buildid: number | string | null;
  number: number | string | null;
  started_at: number | string | null;
  complete_at: number | string | null;
  results: number | string | null;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));
const result = (v: number | string | null): Result | null => resultOrNull.from(v) as Result | null;
// SQLite hands booleans back as 0/1, PostgreSQL as true/false.
const bool = (v: boolean | number | string): boolean => v === true || v === 1 || v === '1' || v === 't' || v === 'true';

export class ConsoleRepo {
  private readonly changes: Repository<ChangeRow>;
  constructor(private readonly source: DataSource) {
    this.changes = source.getRepository<ChangeRow>('Change');
  }

  /** Changes newest first (on one branch when given): one page and how many there are in all. */
  async changePage(opts: { branch: string | null; limit: number; offset: number }): Promise<{ rows: ChangeRow[]; total: number }> {
    const qb = this.changes.createQueryBuilder('c');
    if (opts.branch !== null) qb.where('c.branch = :branch', { branch: opts.branch });
    const [rows, total] = await qb.orderBy('c.id', 'DESC').skip(opts.offset).take(opts.limit).getManyAndCount();
    return { rows, total };
  }

  /**
   * Every request of these builders that builds one of these changes, with its builds (none yet
   * while it waits), in one query: oldest request and build first.
   */
  async cells(changeids: readonly number[], builderids: readonly number[]): Promise<ConsoleCellRow[]> {
    if (changeids.length === 0 || builderids.length === 0) return [];
    const rows = await this.source
      .createQueryBuilder()
      .select('l.changeid', 'changeid')
      .addSelect('r.id', 'buildrequestid')
      .addSelect('r.builderid', 'builderid')
      .addSelect('r.complete', 'request_complete')
      .addSelect('r.results', 'request_results')
      .addSelect('b.id', 'buildid')
      .addSelect('b.number', 'number')
      .addSelect('b.started_at', 'started_at')
      .addSelect('b.complete_at', 'complete_at')
      .addSelect('b.results', 'results')
      .from('buildrequest_changes', 'l')
      .innerJoin('buildrequests', 'r', 'r.id = l.buildrequestid')
      .leftJoin('builds', 'b', 'b.buildrequestid = r.id')
      .where('l.changeid IN (:...changeids) AND r.builderid IN (:...builderids)', { changeids, builderids })
      .orderBy('l.changeid', 'ASC')
      .addOrderBy('r.id', 'ASC')
      .addOrderBy('b.id', 'ASC')
      .getRawMany<RawCell>();
    return rows.map((r) => ({
      changeid: Number(r.changeid),
      buildrequestid: Number(r.buildrequestid),
      builderid: Number(r.builderid),
      request_complete: bool(r.request_complete),
      request_results: result(r.request_results),
      buildid: num(r.buildid),
      number: num(r.number),
      started_at: rawTime(r.started_at),
      complete_at: rawTime(r.complete_at),
      results: result(r.results),
    }));
  }

  /**
   * The builds of these builders that overlap [from, to] (epoch ms): started before its end and
   * not finished before its start (running ones included), oldest first, at most `limit`; and how
   * many there are in all.
   */
  async timeline(
    builderids: readonly number[],
    from: number,
    to: number,
    limit: number,
  ): Promise<{ rows: TimelineBuildRow[]; total: number }> {
    if (builderids.length === 0) return { rows: [], total: 0 };
    const qb = this.source
      .createQueryBuilder()
      .from('builds', 'b')
      .where('b.builderid IN (:...builderids) AND b.started_at <= :to AND (b.complete_at IS NULL OR b.complete_at >= :from)', {
        builderids,
        from,
        to,
      });
    const count = await qb.clone().select('COUNT(*)', 'n').getRawOne<{ n: number | string }>();
    const rows = await qb
      .select('b.id', 'buildid')
      .addSelect('b.builderid', 'builderid')
      .addSelect('b.number', 'number')
      .addSelect('b.started_at', 'started_at')
      .addSelect('b.complete_at', 'complete_at')
      .addSelect('b.results', 'results')
      .orderBy('b.started_at', 'DESC')
      .addOrderBy('b.id', 'DESC')
      .limit(limit)
      .getRawMany<Record<keyof TimelineBuildRow, number | string | null>>();
    return {
      // The newest `limit` builds, handed back oldest first.
      rows: rows.reverse().map((r) => ({
        buildid: Number(r.buildid),
        builderid: Number(r.builderid),
        number: Number(r.number),
        started_at: Number(r.started_at),
        complete_at: rawTime(r.complete_at),
        results: result(r.results),
      })),
      total: Number(count?.n ?? 0),
    };
  }
}
