/**
 * The writes that move a running build along, each one transaction (one commit), so a trivial build
 * costs a few commits instead of one per row:
 *
 * - start(): the build's row with its number and properties, and its first step's row;
 * - endStep(): a step's end, the close of its logs, and either the next step's start (its row, the
 *   build's state string and properties) or the build's end with its request's (completed, or
 *   released for another try).
 *
 * A step whose first log is known before it runs (Step.firstLog(): a plain command's `stdio`) has
 * that log's row written with its own, so its command is sent without a write of its own first;
 * the step's end removes it when the step never wrote to it (skipped, stopped, failed before its
 * command), so what is stored at the end is what it was when the step created its log itself.
 *
 * Both go through group commit (group-commit.ts): those of builds running together, asked for in
 * the same turn of the event loop, share one transaction.
 *
 * Every statement is a plain one with its values bound (plain-sql.ts). A try whose COMMIT answer was
 * lost may have landed: `startLanded()` and `endLanded()` find what it left, so a retry through an
 * outage (outage-write.ts) writes nothing twice; the rest of each transaction is idempotent.
 */
import type { DataSource, EntityManager } from 'typeorm';
import type { BuildRow, LogRow, StepRow } from './entities.ts';
import type { Result } from '../../core/results.ts';
import { NotFoundError } from '../../core/errors/index.ts';
import { groupCommit, type GroupCommit } from './group-commit.ts';
import { plainSql, type PlainSql } from './plain-sql.ts';
import type { BuildEndValues, BuildsRepo } from './builds.ts';
import type { StepsRepo } from './steps.ts';
import { slugify } from './logs.ts';

/** A step about to start: its row is written with the write that ends the one before (or starts the build). */
export interface StepStart {
  number: number;
  name: string;
  started_at: number;
  /** The log the step writes first, when known before it runs (Step.firstLog()): its row is written with the step's. */
  log?: FirstLog | undefined;
}

/** A log a step is known to write first: its name and type ('s' stdio, 't' text). */
export interface FirstLog {
  name: string;
  type: 's' | 't';
}

/** A step's row as its start stored it, with its first log's row when that was written with it. */
export interface StartedStep {
  row: StepRow;
  log: LogRow | null;
}

/** What a step's end stores. */
export interface StepEnd {
  results: Result;
  complete_at: number;
  state_string: string;
  hidden: boolean;
}

/** A log whose bytes are all stored: closed with its step's end, with its final line count. */
export interface LogClose {
  id: number;
  num_lines: number;
}

/** The build's end, written with its last step's end. */
export interface BuildEnd extends BuildEndValues {
  /** Its request: completed with the build's result and time, or released for another try (RETRY). */
  request: { complete: number } | { release: number };
}

/** What follows a step's end in the same transaction. */
export type AfterStep =
  /** The next step starts: the build's state string names it; its properties are written when given (they changed). */
  { next: StepStart; properties: string | undefined } | { finish: BuildEnd };

export type NewBuild = Omit<BuildRow, 'id' | 'number' | 'complete_at' | 'results' | 'properties' | 'state_string'>;

export class BuildProgressRepo {
  private readonly sql: PlainSql;
  private readonly group: GroupCommit;

  constructor(
    private readonly source: DataSource,
    private readonly builds: BuildsRepo,
    private readonly steps: StepsRepo,
  ) {
    this.sql = plainSql(source);
    this.group = groupCommit(source);
  }

  /**
   * Stores a new build with the builder's next number (see BuildsRepo.create for how numbers are
   * taken) and, when given, its first step. `properties` makes the build's properties once its
   * number is known (they hold `buildnumber`); it is called inside the transaction, so it must be
   * quick and may be called again when a try is repeated.
   *
   * The request's claim stays a statement of its own, before: the claimer waits for each claim in
   * turn, and waiting there for this whole transaction instead delayed the builds after it (600
   * builds reached their agents in 2.7–4.7 s instead of 1.6–2.7 s, for the same CPU).
   */
  start(
    values: NewBuild,
    properties: (number: number) => string,
    first: StepStart | null,
  ): Promise<{ build: BuildRow; step: StartedStep | null }> {
    return this.group.run(async (em) => {
      const number = await this.builds.nextNumber(values.builderid, em);
      const row: Omit<BuildRow, 'id'> = {
        ...values,
        number,
        complete_at: null,
        results: null,
        state_string: first ? `running ${first.name}` : 'starting',
        properties: properties(number),
      };
      const build: BuildRow = { ...row, id: await this.sql.insertReturningId('builds', row, em) };
      const step = first ? await this.insertStep(build.id, first, em) : null;
      return { build, step };
    });
  }

  /** What a start() whose answer was lost stored: the request's running build on this master, and its first step. */
  async startLanded(
    buildrequestid: number,
    masterid: number,
    first: StepStart | null,
  ): Promise<{ build: BuildRow; step: StartedStep | null } | undefined> {
    const build = await this.builds.runningOfRequest(buildrequestid, masterid);
    if (!build) return undefined;
    if (!first) return { build, step: null };
    const step = await this.stepLanded(build.id, first);
    if (!step) throw new NotFoundError(`build ${build.id} was stored without its first step`);
    return { build, step };
  }

  /**
   * A step's end, the close of its logs, and what comes after it (see AfterStep), in one
   * transaction. `unused`: the log written with the step's start that it never wrote to (removed).
   * Returns the next step's row when one was started.
   */
  endStep(
    buildid: number,
    stepid: number,
    end: StepEnd,
    logs: readonly LogClose[],
    after: AfterStep,
    unused: number | null = null,
  ): Promise<StartedStep | null> {
    return this.group.run(async (em) => {
      await this.sql.updateById('steps', stepid, { ...end }, em);
      // The same statement as LogsRepo.finish: the log is complete, with its final line count.
      for (const log of logs) await this.sql.updateById('logs', log.id, { complete: true, num_lines: log.num_lines }, em);
      if (unused !== null) await this.dropUnusedLog(unused, em);
      if ('finish' in after) {
        await this.finishBuild(buildid, after.finish, em);
        return null;
      }
      const step = await this.insertStep(buildid, after.next, em);
      await this.sql.updateById('builds', buildid, { state_string: `running ${after.next.name}`, properties: after.properties }, em);
      return step;
    });
  }

  /** What an endStep() whose answer was lost stored: the next step's row (the rest is safe to write again). */
  async endLanded(buildid: number, after: AfterStep): Promise<StartedStep | null | undefined> {
    if (!('next' in after)) return undefined;
    return this.stepLanded(buildid, after.next);
  }

  /**
   * Removes a log written with its step's start that the step did not use, in a write of its own: a
   * step about to create another log of the same slug (the unique key) first. Only while it is empty.
   */
  dropUnused(logid: number): Promise<void> {
    return this.group.run((em) => this.dropUnusedLog(logid, em));
  }

  private async dropUnusedLog(logid: number, em: EntityManager): Promise<void> {
    const sql = this.sql.text('logs:drop-unused', (p) => `DELETE FROM "logs" WHERE "id" = ${p(1)} AND "num_bytes" = ${p(2)}`);
    await this.sql.run(sql, [logid, 0], em);
  }

  /** A step a lost answer may have stored, with its first log when one was written with it. */
  private async stepLanded(buildid: number, start: StepStart): Promise<StartedStep | undefined> {
    const row = await this.steps.ofBuild(buildid, start.number);
    if (!row) return undefined;
    if (!start.log) return { row, log: null };
    const sql = this.sql.text('logs:id-of-step-slug', (p) => `SELECT "id" FROM "logs" WHERE "stepid" = ${p(1)} AND "slug" = ${p(2)}`);
    const [found] = (await this.sql.run(sql, [row.id, slugify(start.log.name)])).rows;
    if (!found) throw new NotFoundError(`step ${row.id} was stored without its log "${start.log.name}"`);
    return { row, log: { ...newLogRow(row.id, start.log), id: Number(found.id) } };
  }

  private async insertStep(buildid: number, start: StepStart, em: EntityManager): Promise<StartedStep> {
    const { log: first, ...values } = start;
    const row: Omit<StepRow, 'id'> = { buildid, ...values, complete_at: null, results: null, state_string: 'running', hidden: false };
    const step: StepRow = { ...row, id: await this.sql.insertReturningId('steps', row, em) };
    if (!first) return { row: step, log: null };
    // The same row LogsRepo.create writes, so the step's run finds it as if it had made it.
    const log = newLogRow(step.id, first);
    return { row: step, log: { ...log, id: await this.sql.insertReturningId('logs', log, em) } };
  }

  private async finishBuild(buildid: number, end: BuildEnd, em: EntityManager): Promise<void> {
    const { request, ...values } = end;
    await this.builds.finishIn(em, buildid, values, request);
  }
}

/** A new, empty log's row (as LogsRepo.create writes it), without its id. */
function newLogRow(stepid: number, log: FirstLog): Omit<LogRow, 'id'> {
  return { stepid, name: log.name, slug: slugify(log.name), type: log.type, num_lines: 0, num_bytes: 0, complete: false, expired_at: null };
}
