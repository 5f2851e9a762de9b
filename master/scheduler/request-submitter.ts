/**
 * The one way a build request enters the queue: stored, then announced on the bus (which wakes the
 * request claimer, here and on masters sharing the database). Schedulers, triggers, change intake
 * and the force/rebuild actions all submit through it.
 *
 * Requests are submitted in buildsets (Buildbot's): one request per builder of one submission, with
 * the same properties and changes, named by the scheduler that made them. A scheduler's buildset
 * carries the `scheduler` property (as in Buildbot), and the waits of the dependent schedulers that
 * follow that scheduler are stored with it (master/scheduler/dependent.ts).
 *
 * A matrix builder (master/config/matrix.ts) gets one request per cell in the buildset, each with its
 * cell: the buildset is the matrix's parent.
 */
import { NotFoundError } from '../../core/errors/index.ts';
import type { Repositories } from '../db/repositories.ts';
import type { NewBuildset, SubmittedBuildset } from '../db/buildsets.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { SchedulerConfig } from '../config/schedulers.ts';
import { requestPriority, type QueuePriorities } from './request-priority.ts';
import type { MatrixCell } from '../config/matrix.ts';

/** The cells of each matrix builder, by name (builders without a matrix are not in it). */
export type MatrixCells = ReadonlyMap<string, readonly MatrixCell[]>;

/** The matrix builders of a config and their cells. */
export function matrixCellsOf(builders: readonly { name: string; matrixCells: readonly MatrixCell[] | null }[]): MatrixCells {
  return new Map(builders.flatMap((b) => (b.matrixCells ? [[b.name, b.matrixCells] as const] : [])));
}

export type SubmitRequest = (
  builderName: string,
  reason: string,
  properties: Record<string, unknown>,
  changeids?: number[],
  parentBuildid?: number | null,
  /** Default: the builder's `priority` (request-priority.ts). */
  priority?: number,
) => Promise<number>;

export interface BuildsetSpec {
  /** The scheduler submitting; null for a force, a rebuild or the API. */
  scheduler: string | null;
  builderNames: readonly string[];
  reason: string;
  properties: Record<string, unknown>;
  changeids?: number[];
  parentBuildid?: number | null;
  priority?: number;
}

/** Submits one request per builder, in one buildset; nothing when `builderNames` is empty. */
export type SubmitBuildset = (set: BuildsetSpec) => Promise<SubmittedBuildset['requests']>;

interface SubmitterDeps {
  repos: Repositories;
  bus: EventBus;
  builderIds: ReadonlyMap<string, number>;
  now: () => number;
  /** The configured schedulers: whose dependents wait for whose buildsets. */
  schedulers?: readonly SchedulerConfig[];
  /** The schedulers' and builders' `priority`: the priority of a request whose submission gives none. */
  priorities?: QueuePriorities;
  /** The matrix builders' cells: a request for such a builder is one request per cell. */
  matrices?: MatrixCells;
}

/** The dependent schedulers that follow each scheduler, by its name. */
export function followersOf(schedulers: readonly SchedulerConfig[]): ReadonlyMap<string, string[]> {
  const followers = new Map<string, string[]>();
  for (const s of schedulers) if (s.type === 'dependent') followers.set(s.upstream, [...(followers.get(s.upstream) ?? []), s.name]);
  return followers;
}

/** The stored form of a buildset spec: builder ids looked up, the `scheduler` property and the followers added. */
export function buildsetToStore(
  set: BuildsetSpec,
  builderIds: ReadonlyMap<string, number>,
  followers: ReadonlyMap<string, string[]>,
  priorities?: QueuePriorities,
  matrices?: MatrixCells,
): NewBuildset {
  const builders = set.builderNames.flatMap((name) => {
    const builderid = builderIds.get(name);
    if (builderid === undefined) throw new NotFoundError(`builder "${name}" not found`);
    const request = { builderid, name, priority: requestPriority(priorities, set.priority, set.scheduler, name) };
    const cells = matrices?.get(name);
    return cells ? cells.map((matrix) => ({ ...request, matrix })) : [request];
  });
  return {
    scheduler: set.scheduler,
    reason: set.reason,
    builders,
    properties: set.scheduler === null ? set.properties : { ...set.properties, scheduler: set.scheduler },
    changeids: set.changeids,
    parentBuildid: set.parentBuildid,
    priority: set.priority,
    followers: set.scheduler === null ? [] : (followers.get(set.scheduler) ?? []),
  };
}

/** Tells the claimers (here and on the other masters) of stored requests. */
export function announce(bus: EventBus, requests: SubmittedBuildset['requests']): void {
  for (const r of requests) bus.publish('buildrequest.new', { buildrequestid: r.buildrequestid, builderid: r.builderid });
}

export function buildsetSubmitter(deps: SubmitterDeps): SubmitBuildset {
  return async (set) => {
    if (set.builderNames.length === 0) return [];
    // Read at each submission: a reconfig may have changed the schedulers.
    const followers = followersOf(deps.schedulers ?? []);
    const stored = await deps.repos.buildsets.create(
      buildsetToStore(set, deps.builderIds, followers, deps.priorities, deps.matrices),
      deps.now(),
    );
    announce(deps.bus, stored.requests);
    return stored.requests;
  };
}

/** A request of one builder, alone in its buildset (a force, a rebuild). */
export function requestSubmitter(deps: SubmitterDeps): SubmitRequest {
  const submit = buildsetSubmitter(deps);
  return async (builderName, reason, properties, changeids = [], parentBuildid = null, priority) => {
    const [request] = await submit({
      scheduler: null,
      builderNames: [builderName],
      reason,
      properties,
      changeids,
      parentBuildid,
      priority,
    });
    if (!request) throw new NotFoundError(`builder "${builderName}" not found`);
    return request.buildrequestid;
  };
}
