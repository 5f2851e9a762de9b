/**
 * Ending builds nobody will finish: those a dead previous run of this master left running, and
 * those whose runner failed. Each ends EXCEPTION with its unfinished steps, and its request is
 * completed. Writes are retried through a database outage, or the build would look "running"; a
 * write the database refuses (a constraint, a bad query) fails at once.
 */
import type { Repositories } from '../db/repositories.ts';
import { retry } from '../../core/retry.ts';
import { isTransientError } from '../../core/transient-error.ts';
import type { Logger } from '../../core/logger.ts';
import { Results } from '../../core/results.ts';

export async function endAsException(
  repos: Repositories,
  build: { id: number } | null,
  buildrequestid: number,
  states: { build: string; step: string },
  now: () => number,
): Promise<void> {
  const land = <T>(write: () => Promise<T>) => retry(write, { isRetryable: isTransientError });
  if (build) {
    await land(() => repos.builds.update(build.id, { results: Results.EXCEPTION, complete_at: now(), state_string: states.build }));
    for (const step of await land(() => repos.steps.incompleteOfBuild(build.id))) {
      await land(() => repos.steps.update(step.id, { results: Results.EXCEPTION, complete_at: now(), state_string: states.step }));
    }
  }
  await land(() => repos.buildRequests.complete(buildrequestid, Results.EXCEPTION, now()));
}

/**
 * Ends what a dead previous run of this master left behind; requests it claimed but never started go
 * back to the queue, those whose build had ended are completed with its result.
 */
export async function recoverAbandoned(repos: Repositories, masterid: number, now: () => number, log: Logger): Promise<void> {
  for (const build of await repos.builds.incompleteOfMaster(masterid)) {
    await endAsException(
      repos,
      build,
      build.buildrequestid,
      { build: 'exception: master restarted during the build', step: 'master restarted' },
      now,
    );
    log.warn('build left running by a previous master run marked EXCEPTION', { buildid: build.id });
  }
  for (const request of await repos.buildRequests.claimedIncomplete(masterid)) {
    // The master may have died between storing its build's end and completing the request: that
    // request was built, and is completed with the build's result, not built a second time.
    const built = await repos.builds.latestOfRequest(request.id);
    if (built && built.complete_at !== null && built.results !== null && built.results !== Results.RETRY) {
      await repos.buildRequests.complete(request.id, built.results, built.complete_at);
      log.warn('request whose build had ended completed with its result', { buildrequestid: request.id, buildid: built.id });
    } else await repos.buildRequests.unclaim(request.id);
  }
}
