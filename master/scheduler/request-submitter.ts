/**
 * The one way a build request enters the queue: stored, then announced on the bus (which wakes the
 * request claimer, here and on masters sharing the database). Schedulers, triggers, change intake
 * and the force/rebuild actions all submit through it.
 */
import { NotFoundError } from '../../core/errors/index.ts';
import type { Repositories } from '../db/repositories.ts';
import type { EventBus } from '../events/event-bus.ts';

export type SubmitRequest = (
  builderName: string,
  reason: string,
  properties: Record<string, unknown>,
  changeids?: number[],
  parentBuildid?: number | null,
) => Promise<number>;

export function requestSubmitter(deps: {
  repos: Repositories;
  bus: EventBus;
  builderIds: ReadonlyMap<string, number>;
  now: () => number;
}): SubmitRequest {
  return async (builderName, reason, properties, changeids = [], parentBuildid = null) => {
    const builderid = deps.builderIds.get(builderName);
    if (builderid === undefined) throw new NotFoundError(`builder "${builderName}" not found`);
    const row = await deps.repos.buildRequests.create({ builderid, reason, properties, changeids, parentBuildid }, deps.now());
    deps.bus.publish('buildrequest.new', { buildrequestid: row.id, builderid });
    return row.id;
  };
}
