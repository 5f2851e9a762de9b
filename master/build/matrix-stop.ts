/**
 * Stopping a buildset (a matrix build's parent) stops its cells: requests still queued end
 * CANCELLED, running builds are stopped as the stop button stops one. A request claimed between the
 * two reads is stopped through its build; one whose build has not stored its row yet is tried again
 * a few times, since a cell left running would keep the parent from its result.
 */
import { ConflictError } from '../../core/errors/index.ts';
import type { Repositories } from '../db/repositories.ts';
import type { BuildActions } from './build-actions.ts';

/** Tries for a request claimed but whose build is not stored yet (the build stores its row first thing). */
const STARTING_TRIES = 20;
const STARTING_WAIT_MS = 100;

export async function stopBuildset(
  deps: { repos: Repositories; actions: Pick<BuildActions, 'cancelRequest' | 'stop'> },
  buildsetid: number,
  reason: string,
): Promise<{ cancelled: number[]; stopping: number[] }> {
  const cancelled: number[] = [];
  const stopping: number[] = [];
  const open = (await deps.repos.buildsets.requestsOf(buildsetid)).filter((r) => !r.complete);
  for (const request of open) {
    for (let attempt = 1; ; attempt++) {
      const build = (await deps.repos.buildsets.latestBuilds([request.id])).get(request.id);
      if (build && build.complete_at === null) {
        await deps.actions.stop(build.id, reason).catch((e: unknown) => {
          // It ended meanwhile: nothing left to stop.
          if (!(e instanceof ConflictError)) throw e;
        });
        stopping.push(build.id);
        break;
      }
      try {
        await deps.actions.cancelRequest(request.id);
        cancelled.push(request.id);
        break;
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
        const now = await deps.repos.buildRequests.get(request.id);
        if (!now || now.complete) break; // ended meanwhile
        if (attempt >= STARTING_TRIES) throw e;
        await new Promise((resolve) => setTimeout(resolve, STARTING_WAIT_MS));
      }
    }
  }
  return { cancelled, stopping };
}
