/**
 * The bisector: narrows a change point of a builder's series down to the commit that caused it.
 *
 * A bisection's states (the `state` column): running -> found | inconclusive. While running it
 * is, at any moment, in one of these phases, derived from its rows rather than stored, so that a
 * master that restarts simply calls `advance` again and carries on:
 *   listing   -> `commits` is empty: fetch the mirror (git-mirror.ts), list good..bad (first-parent)
 *   sides     -> a side (good or bad) has no samples: borrow finished builds of that commit, or
 *                request one
 *   waiting   -> a requested build is pending: nothing to do until its request completes
 *   judging   -> the middle commit between the last good and the first bad has samples: judge it
 *                (verdict.ts), or request a repeat when borderline, within the budget
 *   done      -> last good and first bad are adjacent: the first bad is the culprit (found)
 * Any phase can end the bisection inconclusive: the budget (maxBuilds for the bisection, maxPerDay
 * for the builder) is spent, a build failed or measured nothing, git failed, the sides measure the
 * same. `advance` runs one at a time per bisection and is idempotent: every build it asks for is a
 * row first, so a crash never loses a request nor makes one twice for the same need.
 */
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/error-message.ts';
import { Results } from '../../core/results.ts';
import type { BisectionBuildRow, BisectionRow, BisectionsRepo, NewBisection, Verdict } from '../db/bisections.ts';
import type { Repositories } from '../db/repositories.ts';
import type { SubmitRequest } from '../scheduler/request-submitter.ts';
import type { MetricsService } from '../../metrics/metrics-service.ts';
import { KeyedLock } from '../reporters/keyed-lock.ts';
import type { BisectOptions } from './bisect-options.ts';
import { GitMirror } from './git-mirror.ts';
import { judge, sidesProblem } from './verdict.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Finished builds of a side's commit borrowed for its samples. */
const BORROWED_PER_SIDE = 5;

/** What the bisector needs to know of a builder. */
export interface BisectableBuilder {
  id: number;
  name: string;
  bisect: BisectOptions | undefined;
  repourl: string | null;
}

/** A culprit named, for the reporters (culprit-notice.ts). */
export interface CulpritFound {
  bisection: BisectionRow;
  builder: string;
}

export interface BisectorDeps {
  repos: Pick<Repositories, 'builds' | 'buildRequests'>;
  bisections: BisectionsRepo;
  metrics: Pick<MetricsService, 'buildPoints' | 'flush'>;
  submit: SubmitRequest;
  /** The builders in force (a reconfig may change them), by id. */
  builder: (id: number) => BisectableBuilder | undefined;
  basedir: string;
  /** This master: it drives the bisections it started or adopted (masters sharing PostgreSQL). */
  masterid: number;
  log: Logger;
  now: () => number;
  onCulprit?: (found: CulpritFound) => Promise<void>;
}

export class Bisector {
  private readonly lock = new KeyedLock();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: BisectorDeps) {}

  /** Stores a new bisection and starts it. */
  async start(b: NewBisection, borrow: number[] = []): Promise<number> {
    const id = await this.deps.bisections.create(b, this.deps.masterid, this.deps.now());
    for (const buildid of borrow) await this.borrowBuild(id, buildid);
    this.kick(id);
    return id;
  }

  /**
   * Moves on every running bisection this master drives, adopting those of a master that stopped: at
   * start-up, and now and then after (a build another master ran completes without an event here).
   */
  async resume(): Promise<void> {
    if (this.stopped) return;
    for (const b of await this.deps.bisections.runningOf(this.deps.masterid)) this.kick(b.id);
  }

  /** A build request completed: if a bisection asked for it, it moves on. */
  async requestCompleted(buildrequestid: number): Promise<void> {
    const id = await this.deps.bisections.ofRequest(buildrequestid);
    if (id !== null) this.kick(id);
  }

  /** Waits for the steps under way; requests nothing more. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Runs `advance` in the background; its errors end the bisection, never the master. */
  kick(id: number): void {
    if (this.stopped) return;
    const p = this.lock
      .run(String(id), () => this.advance(id))
      .catch((e: unknown) => this.deps.log.error('bisection step failed', { bisection: id, error: errorMessage(e) }))
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Takes the bisection as far as it goes without waiting for a build. */
  async advance(id: number): Promise<void> {
    const b = await this.deps.bisections.get(id);
    if (!b || b.state !== 'running' || b.masterid !== this.deps.masterid || this.stopped) return;
    const builder = this.deps.builder(b.builderid);
    if (!builder?.bisect) return this.end(b, `builder ${b.builderid} no longer has the bisect option`);
    const mirror = new GitMirror(b.repourl, this.deps.basedir);
    if (b.commits.length === 0) {
      try {
        await mirror.update([b.good, b.bad]);
        // A short id or a branch name given by hand becomes the commit it names, now.
        b.good = await mirror.resolve(b.good);
        b.bad = await mirror.resolve(b.bad);
        b.commits = await mirror.between(b.good, b.bad);
      } catch (e) {
        return this.end(b, `git: ${errorMessage(e)}`);
      }
      if (b.commits.length === 0) return this.end(b, `no commits between good ${b.good} and bad ${b.bad} (first-parent)`);
      await this.deps.bisections.update(b.id, { commits: b.commits, good: b.good, bad: b.bad });
    }
    const builds = await this.settle(b, await this.deps.bisections.builds(b.id));
    // A build that failed, or succeeded without measuring, ends the bisection; one that did not run
    // to its end (exception, cancelled at a shutdown, retry) is asked for again.
    const failed = builds.find((r) => r.state === 'done' && (r.results === Results.FAILURE || (counts(r) && r.samples?.length === 0)));
    if (failed) return this.end(b, failedReason(b, failed));
    if (builds.some((r) => r.state === 'pending')) return; // waiting

    const valuesAt = (rev: string) => builds.filter((r) => r.revision === rev && counts(r)).flatMap((r) => r.samples ?? []);
    for (const side of [b.good, b.bad]) {
      if (valuesAt(side).length > 0) continue;
      if (await this.borrowSide(b, side)) return this.advance(id);
      return this.request(b, builder, builds, side, 'the sides are measured first');
    }
    const steps = await this.deps.bisections.steps(b.id);
    const verdicts = new Map(steps.map((s) => [s.revision, s.verdict]));
    for (;;) {
      const { lo, hi } = bounds(b.commits, verdicts);
      const culprit = b.commits[hi];
      if (hi - lo <= 1 && culprit !== undefined) return this.found(b, builder, mirror, culprit);
      const pool = (verdict: Verdict, end: string) => [
        ...valuesAt(end),
        ...[...verdicts].filter(([, v]) => v === verdict).flatMap(([rev]) => valuesAt(rev)),
      ];
      const good = pool('good', b.good);
      const bad = pool('bad', b.bad);
      const problem = sidesProblem(good, bad);
      if (problem) return this.end(b, problem);
      const mid = Math.floor((lo + hi) / 2);
      const commit = b.commits[mid] ?? b.bad;
      const samples = valuesAt(commit);
      const where = `the culprit is one of the ${hi - lo} commits after ${(b.commits[lo] ?? b.good).slice(0, 12)} up to ${(b.commits[hi] ?? b.bad).slice(0, 12)}`;
      if (samples.length === 0) return this.request(b, builder, builds, commit, where);
      const runs = builds.filter((r) => r.revision === commit).length;
      const final = runs > builder.bisect.repeats || this.budgetLeft(b, builder, builds) === 0;
      const j = judge(samples, good, bad, final);
      if (j.verdict === null) return this.request(b, builder, builds, commit, where);
      await this.deps.bisections.addStep({
        bisectionid: b.id,
        revision: commit,
        position: mid,
        verdict: j.verdict,
        how: j.how,
        decided_at: this.deps.now(),
      });
      verdicts.set(commit, j.verdict);
    }
  }

  /** Pending builds whose request has completed get their result and samples. */
  private async settle(b: BisectionRow, builds: BisectionBuildRow[]): Promise<BisectionBuildRow[]> {
    const out: BisectionBuildRow[] = [];
    for (const r of builds) {
      if (r.state !== 'pending' || r.buildrequestid === null) {
        out.push(r);
        continue;
      }
      const request = await this.deps.repos.buildRequests.get(r.buildrequestid);
      if (!request?.complete) {
        out.push(r);
        continue;
      }
      const build = await this.deps.repos.builds.latestOfRequest(r.buildrequestid);
      const results = build?.results ?? request.results ?? Results.EXCEPTION;
      const samples = build ? await this.samplesOf(b, build.id) : [];
      await this.deps.bisections.finishBuild(r.id, build?.id ?? null, results, samples);
      out.push({ ...r, state: 'done', buildid: build?.id ?? null, results, samples });
    }
    return out;
  }

  /** The series' values a build measured, with the bisection's tags. */
  private async samplesOf(b: BisectionRow, buildid: number): Promise<number[]> {
    const build = await this.deps.repos.builds.get(buildid);
    if (!build) return [];
    await this.deps.metrics.flush();
    // Its points were captured while it ran (a minute's slack for clocks of masters sharing a database).
    const points = await this.deps.metrics.buildPoints(buildid, build.started_at - 60_000, (build.complete_at ?? this.deps.now()) + 60_000);
    return points.filter((p) => p.series === b.series && Object.entries(b.tags).every(([k, v]) => p.tags[k] === v)).map((p) => p.value);
  }

  private async borrowBuild(id: number, buildid: number): Promise<void> {
    const b = await this.deps.bisections.get(id);
    const build = await this.deps.repos.builds.get(buildid);
    if (!b || !build || build.complete_at === null) return;
    const revision = revisionOf(build.properties);
    if (revision === null) return;
    const samples = await this.samplesOf(b, buildid);
    await this.deps.bisections.addBuild(
      { bisectionid: id, revision, buildrequestid: null, buildid, samples, results: build.results },
      this.deps.now(),
    );
  }

  /** Borrows the builder's finished good builds of `revision`; true when one had samples. */
  private async borrowSide(b: BisectionRow, revision: string): Promise<boolean> {
    const ids = await this.deps.bisections.buildsAt(b.builderid, revision, BORROWED_PER_SIDE);
    let any = false;
    for (const buildid of ids) {
      const samples = await this.samplesOf(b, buildid);
      if (samples.length === 0) continue;
      await this.deps.bisections.addBuild(
        { bisectionid: b.id, revision, buildrequestid: null, buildid, samples, results: Results.SUCCESS },
        this.deps.now(),
      );
      any = true;
    }
    return any;
  }

  private budgetLeft(b: BisectionRow, builder: BisectableBuilder, builds: readonly BisectionBuildRow[]): number {
    const used = builds.filter((r) => r.buildrequestid !== null).length;
    return Math.max(0, (builder.bisect?.maxBuilds ?? 0) - used);
  }

  /** Requests a build of `revision`, or ends the bisection when the budget is spent. */
  private async request(
    b: BisectionRow,
    builder: BisectableBuilder,
    builds: readonly BisectionBuildRow[],
    revision: string,
    where: string,
  ): Promise<void> {
    const options = builder.bisect;
    if (!options) return;
    if (this.budgetLeft(b, builder, builds) === 0) return this.end(b, `budget: ${options.maxBuilds} builds (maxBuilds) used; ${where}`);
    const today = await this.deps.bisections.requestedSince(b.builderid, this.deps.now() - DAY_MS);
    if (today >= options.maxPerDay)
      return this.end(b, `budget: ${options.maxPerDay} builds a day (maxPerDay) used by builder ${builder.name}; ${where}`);
    const properties: Record<string, unknown> = { bisect: b.id, revision, repository: b.repourl };
    if (b.branch !== null) properties.branch = b.branch;
    // The request, then its row: a crash between the two leaves a request no row knows of; its
    // build runs unread and the resumed bisection asks again (one build too many, never one lost).
    const buildrequestid = await this.deps.submit(builder.name, `bisecting #${b.id}`, properties);
    await this.deps.bisections.addBuild({ bisectionid: b.id, revision, buildrequestid, buildid: null }, this.deps.now());
  }

  private async found(b: BisectionRow, builder: BisectableBuilder, mirror: GitMirror, culprit: string): Promise<void> {
    const info = await mirror.describe(culprit).catch(() => ({ author: '', email: '', subject: '' }));
    const done = {
      state: 'found' as const,
      culprit,
      culprit_author: info.author.slice(0, 500) || null,
      culprit_email: info.email.slice(0, 320) || null,
      culprit_subject: info.subject || null,
      finished_at: this.deps.now(),
    };
    await this.deps.bisections.update(b.id, done);
    this.deps.log.info('bisection found the culprit', { bisection: b.id, builder: builder.name, culprit, author: info.author });
    await this.deps
      .onCulprit?.({ bisection: { ...b, ...done }, builder: builder.name })
      .catch((e: unknown) => this.deps.log.error('telling the culprit failed', { bisection: b.id, error: errorMessage(e) }));
  }

  private async end(b: BisectionRow, reason: string): Promise<void> {
    await this.deps.bisections.update(b.id, { state: 'inconclusive', reason, finished_at: this.deps.now() });
    this.deps.log.warn('bisection inconclusive', { bisection: b.id, reason });
  }
}

/** A finished build whose values count: success or warnings. */
const counts = (r: BisectionBuildRow) => r.state === 'done' && r.results !== null && r.results <= Results.WARNINGS;

/** The last good and first bad positions in `commits` (−1: the good commit; the last: the bad one). */
export function bounds(commits: readonly string[], verdicts: ReadonlyMap<string, Verdict>): { lo: number; hi: number } {
  let lo = -1;
  let hi = commits.length - 1;
  commits.forEach((c, i) => {
    const v = verdicts.get(c);
    if (v === 'good' && i > lo && i < hi) lo = i;
    if (v === 'bad' && i < hi && i > lo) hi = i;
  });
  return { lo, hi };
}

function failedReason(b: BisectionRow, r: BisectionBuildRow): string {
  const build = r.buildid === null ? 'no build' : `build ${r.buildid}`;
  if (r.results === Results.FAILURE) return `${build} of commit ${r.revision.slice(0, 12)} failed (results ${r.results})`;
  return `${build} of commit ${r.revision.slice(0, 12)} measured no value of series ${b.series}`;
}

/** The revision a build checked out: got_revision, else its revision property. */
export function revisionOf(properties: string): string | null {
  try {
    const props = JSON.parse(properties) as Record<string, unknown>;
    for (const name of ['got_revision', 'revision']) {
      const entry = props[name];
      const value = Array.isArray(entry) ? (entry[0] as unknown) : undefined;
      if (typeof value === 'string' && value !== '') return value;
    }
  } catch {
    // not JSON: no revision
  }
  return null;
}
