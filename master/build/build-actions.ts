/**
 * What users may do to builds besides reading them: force a build, stop one, rebuild one, cancel a
 * queued request, post changes. The API calls these; tests may replace them. Once the master begins
 * to stop, force and changes answer 503 (ShuttingDownError) so the client knows to try again later;
 * a cancel is still taken (it only ends a request nobody runs).
 */
import { ConflictError, NotFoundError, ShuttingDownError, StoreUnavailableError } from '../../core/errors/index.ts';
import { parsePropertyValues, type PropertyValue } from '../../steps/properties/properties.ts';
import type { ChangeInput } from '../changes/change.ts';
import type { SchedulerConfig } from '../config/schedulers.ts';
import type { Repositories } from '../db/repositories.ts';
import type { SubmitRequest } from '../scheduler/request-submitter.ts';
import type { RunningBuilds } from './running-builds.ts';
import type { BuildRequestRow } from '../db/entities.ts';
import type { EventBus } from '../events/event-bus.ts';
import { Results, resultName } from '../../core/results.ts';

export interface BuildActions {
  /** `priority`: default the force scheduler's that lists the builder, else the builder's. */
  force(
    builderName: string,
    request: { reason: string; properties: Record<string, PropertyValue>; priority?: number | undefined },
  ): Promise<number>;
  stop(buildid: number, reason: string): Promise<void>;
  rebuild(buildid: number, reason: string): Promise<number>;
  /**
   * Ends a request no master has claimed yet as CANCELLED (whatever its builder: one removed from
   * the config too); returns it. A claimed request has a build: that build is to be stopped instead.
   */
  cancelRequest(buildrequestid: number): Promise<BuildRequestRow>;
  /** Stores changes (all or none) and hands them to the change schedulers; returns their ids. */
  addChanges(changes: ChangeInput[]): Promise<number[]>;
}

export interface BuildActionsDeps {
  repos: Repositories;
  submit: SubmitRequest;
  schedulers: SchedulerConfig[];
  /** Builder names by database id (configured builders only). */
  builderNames: ReadonlyMap<number, string>;
  running: RunningBuilds;
  masterid: number;
  addChanges(changes: ChangeInput[]): Promise<number[]>;
  /** Asks the master that runs a build to stop it; false when the message could not be sent. */
  forwardStop: ((buildid: number, reason: string) => Promise<boolean>) | null;
  isStopping(): boolean;
  /** Announces a cancelled request (`buildrequest.complete`: the UI, triggers, other masters). */
  bus: Pick<EventBus, 'publish'>;
  now(): number;
}

export function buildActions(deps: BuildActionsDeps): BuildActions {
  const { repos, submit, running } = deps;
  // Read at each force: a reconfig may have changed the schedulers.
  const forceSchedulers = () => deps.schedulers.filter((s) => s.type === 'force');
  // With no force scheduler configured, every builder can be forced (the minimal config works as is).
  const forceable = (name: string) => forceSchedulers().length === 0 || forceSchedulers().some((s) => s.builderNames.includes(name));
  const refuseWhileStopping = (what: string) => {
    if (deps.isStopping()) throw new ShuttingDownError(`the master is shutting down; ${what} again once it is back`);
  };

  return {
    addChanges: async (input) => {
      refuseWhileStopping('post the change');
      return deps.addChanges(input);
    },
    force: async (builderName, req) => {
      refuseWhileStopping('force the build');
      if (!forceable(builderName)) throw new ConflictError(`no force scheduler lists builder "${builderName}"`);
      const priority =
        req.priority ?? forceSchedulers().find((s) => s.builderNames.includes(builderName) && s.priority !== undefined)?.priority;
      return submit(builderName, req.reason, req.properties, [], null, priority);
    },
    stop: async (buildid, reason) => {
      const build = await repos.builds.get(buildid);
      if (!build) throw new NotFoundError(`build ${buildid} not found`);
      if (build.complete_at !== null) throw new ConflictError(`build ${buildid} is already finished`);
      const live = running.get(buildid);
      if (live) return live.stop(reason);
      // Another master sharing the database runs it: ask it (see events/pg-fanout.ts).
      if (deps.forwardStop && build.masterid !== deps.masterid && (await repos.masters.isActive(build.masterid))) {
        if (await deps.forwardStop(buildid, reason)) return;
        throw new StoreUnavailableError(`build ${buildid} runs on another master, which could not be told to stop it; try again`);
      }
      throw new ConflictError(`build ${buildid} is not running on this master, nor on another running master`);
    },
    rebuild: async (buildid, reason) => {
      const build = await repos.builds.get(buildid);
      if (!build) throw new NotFoundError(`build ${buildid} not found`);
      const builderName = deps.builderNames.get(build.builderid);
      if (builderName === undefined) throw new ConflictError(`builder of build ${buildid} is no longer configured`);
      const request = await repos.buildRequests.get(build.buildrequestid);
      if (!request) throw new ConflictError(`the request of build ${buildid} is gone`);
      // Same properties (so the same revision) and the same changes as the build it repeats.
      const built = await repos.changes.ofBuildRequest(request.id);
      return submit(
        builderName,
        reason,
        parsePropertyValues(request.properties, `request ${request.id}'s properties`),
        built.rows.map((c) => c.id),
      );
    },
    cancelRequest: async (id) => {
      // One conditional update: of a cancel and a claim (by any master) at once, exactly one wins.
      const cancelled = await repos.buildRequests.completeUnclaimed(id, Results.CANCELLED, deps.now());
      if (cancelled) deps.bus.publish('buildrequest.complete', { buildrequestid: id, results: Results.CANCELLED });
      const request = await repos.buildRequests.get(id);
      if (!request) throw new NotFoundError(`build request ${id} not found`);
      if (cancelled) return request;
      if (request.complete)
        throw new ConflictError(`build request ${id} is already complete (${resultName(request.results) ?? 'no result'})`);
      const [build] = (await repos.builds.query({ buildrequestid: String(id), order: '-buildid', limit: '1' })).rows;
      throw new ConflictError(
        build
          ? `build request ${id} is already claimed: its build ${build.id} runs; stop build ${build.id} instead (POST /api/v2/builds/${build.id}/stop)`
          : `build request ${id} is already claimed and its build is starting; stop that build instead`,
      );
    },
  };
}
