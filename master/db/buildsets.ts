/**
 * Buildsets (Buildbot's): the requests one submission made, one per builder, with the same
 * properties and changes, named by the scheduler that submitted them. A buildset is complete when
 * all its requests are; its result is the worst of theirs.
 *
 * Two kinds of scheduler state live beside them, each changed in the same transaction as the
 * buildset it leads to, so that neither a restart nor a second master sharing the database makes
 * a submission twice or loses it:
 * - dependent waits: a dependent scheduler's interest in an upstream buildset, written with that
 *   buildset; ended (removed, and the downstream buildset submitted) by one master once it completes.
 * - nightly arms: what a Trigger step last armed a nightly triggerable scheduler with; taken (removed,
 *   and the buildset submitted) by one master at the scheduler's time.
 */
import { In, type DataSource, type EntityManager, type Repository } from 'typeorm';
import type { BuildRequestRow, BuildRow, BuildsetRow, DependentWaitRow, NightlyArmRow } from './entities.ts';
import { insertBuildRequest } from './buildrequests.ts';
import { transaction } from './transaction.ts';
import { plainSql } from './plain-sql.ts';
import { Results, worstResult, type Result } from '../../core/results.ts';
import type { MatrixCell } from '../config/matrix.ts';

export interface NewBuildset {
  /** The scheduler submitting it; null for a force, a rebuild or the API. */
  scheduler: string | null;
  reason: string;
  /** One request for each (a matrix builder's once per cell, with its `matrix`). */
  /** With each builder's request priority, when it differs from the buildset's `priority`. */
  builders: { builderid: number; name: string; priority?: number; matrix?: MatrixCell }[];
  properties: Record<string, unknown>;
  changeids?: number[];
  parentBuildid?: number | null;
  priority?: number;
  /** Dependent schedulers that wait for this buildset to complete. */
  followers?: string[];
}

export interface SubmittedBuildset {
  buildsetid: number;
  requests: { builder: string; builderid: number; buildrequestid: number }[];
}

/** An upstream buildset a dependent scheduler waits for, now complete. */
export interface CompletedWait {
  buildsetid: number;
  results: Result;
  /** Its requests, oldest first: they share the buildset's properties and changes. */
  requests: BuildRequestRow[];
}

export class BuildsetsRepo {
  private readonly waits: Repository<DependentWaitRow>;
  private readonly requests: Repository<BuildRequestRow>;
  private readonly arms: Repository<NightlyArmRow>;

  constructor(private readonly source: DataSource) {
    this.waits = source.getRepository<DependentWaitRow>('DependentWait');
    this.requests = source.getRepository<BuildRequestRow>('BuildRequest');
    this.arms = source.getRepository<NightlyArmRow>('NightlyArm');
  }

  /** The buildset, its requests and its followers' waits, all or none. */
  create(set: NewBuildset, now: number): Promise<SubmittedBuildset> {
    return transaction(this.source, (m) => insertBuildset(m, set, now));
  }

  get(id: number): Promise<BuildsetRow | null> {
    return this.source.getRepository<BuildsetRow>('Buildset').findOneBy({ id });
  }

  /** Its requests (a matrix's cells), oldest first. */
  requestsOf(buildsetid: number): Promise<BuildRequestRow[]> {
    return this.requests.find({ where: { buildsetid }, order: { id: 'ASC' } });
  }

  /** The newest build of each of these requests (a request retried after a lost agent has several). */
  async latestBuilds(buildrequestids: number[]): Promise<Map<number, BuildRow>> {
    const latest = new Map<number, BuildRow>();
    if (buildrequestids.length === 0) return latest;
    const rows = await this.source
      .getRepository<BuildRow>('Build')
      .find({ where: { buildrequestid: In(buildrequestids) }, order: { id: 'ASC' } });
    for (const row of rows) latest.set(row.buildrequestid, row);
    return latest;
  }

  /** The buildsets `scheduler` waits for (those not complete too). */
  async waitsOf(scheduler: string): Promise<number[]> {
    return (await this.waits.findBy({ scheduler })).map((w) => w.buildsetid);
  }

  /** Of the buildsets `scheduler` waits for, those complete, with their results. */
  async completedWaits(scheduler: string): Promise<CompletedWait[]> {
    const ids = await this.waitsOf(scheduler);
    if (ids.length === 0) return [];
    const rows = await this.requests.find({ where: { buildsetid: In(ids) }, order: { id: 'ASC' } });
    const bySet = new Map<number, BuildRequestRow[]>();
    for (const row of rows) if (row.buildsetid !== null) bySet.set(row.buildsetid, [...(bySet.get(row.buildsetid) ?? []), row]);
    const done: CompletedWait[] = [];
    for (const id of ids) {
      const requests = bySet.get(id) ?? [];
      // A buildset with no requests left (its builder removed with them) has nothing to wait for: it failed.
      if (requests.length === 0) done.push({ buildsetid: id, results: Results.EXCEPTION, requests });
      else if (requests.every((r) => r.complete))
        done.push({
          buildsetid: id,
          results: requests.reduce<Result>((worst, r) => worstResult(worst, r.results ?? Results.EXCEPTION), Results.SUCCESS),
          requests,
        });
    }
    return done;
  }

  /**
   * Ends `scheduler`'s wait for a buildset and submits `next` (when given), in one transaction.
   * Null when the wait was gone: another master (or an earlier call) ended it, and submitted.
   */
  endWait(scheduler: string, buildsetid: number, next: NewBuildset | null, now: number): Promise<SubmittedBuildset | 'ended' | null> {
    return transaction(this.source, async (m) => {
      const removed = await m
        .createQueryBuilder()
        .delete()
        .from('dependent_waits')
        .where('scheduler = :scheduler AND buildsetid = :buildsetid', { scheduler, buildsetid })
        .execute();
      if (removed.affected !== 1) return null;
      return next ? insertBuildset(m, next, now) : 'ended';
    });
  }

  /** Arms a nightly triggerable scheduler; what it was armed with before is replaced. */
  arm(values: Omit<NightlyArmRow, 'armed_at'>, now: number): Promise<void> {
    return transaction(this.source, async (m) => {
      await m.createQueryBuilder().delete().from('nightly_arms').where('scheduler = :s', { s: values.scheduler }).execute();
      await m.insert('nightly_arms', { ...values, armed_at: now });
    });
  }

  armOf(scheduler: string): Promise<NightlyArmRow | null> {
    return this.arms.findOneBy({ scheduler });
  }

  /**
   * Takes what `scheduler` was armed with and submits the buildset `make` builds of it, in one
   * transaction. Null when it was not armed, or another master took the arm first.
   */
  fireArm(scheduler: string, make: (arm: NightlyArmRow) => NewBuildset, now: number): Promise<SubmittedBuildset | null> {
    return transaction(this.source, async (m) => {
      const arm = await m.getRepository<NightlyArmRow>('NightlyArm').findOneBy({ scheduler });
      if (!arm) return null;
      const taken = await m
        .createQueryBuilder()
        .delete()
        .from('nightly_arms')
        .where('scheduler = :scheduler AND armed_at = :armedAt', { scheduler, armedAt: arm.armed_at })
        .execute();
      if (taken.affected !== 1) return null;
      return insertBuildset(m, make(arm), now);
    });
  }
}

async function insertBuildset(m: EntityManager, set: NewBuildset, now: number): Promise<SubmittedBuildset> {
  // A plain statement, one text (plain-sql.ts): TypeORM's insert wrote the time into its text.
  const buildsetid = await plainSql(m.connection).insertReturningId(
    'buildsets',
    { scheduler: set.scheduler, reason: set.reason, submitted_at: now, parent_buildid: set.parentBuildid ?? null },
    m,
  );
  const requests: SubmittedBuildset['requests'] = [];
  for (const b of set.builders) {
    const row = await insertBuildRequest(
      m,
      {
        builderid: b.builderid,
        reason: set.reason,
        properties: set.properties,
        priority: b.priority ?? set.priority,
        changeids: set.changeids,
        parentBuildid: set.parentBuildid,
        buildsetid,
        matrix: b.matrix ?? null,
      },
      now,
    );
    requests.push({ builder: b.name, builderid: b.builderid, buildrequestid: row.id });
  }
  const followers = [...new Set(set.followers ?? [])];
  if (followers.length > 0)
    await m.insert(
      'dependent_waits',
      followers.map((scheduler) => ({ scheduler, buildsetid })),
    );
  return { buildsetid, requests };
}
