/**
 * What a Trigger step asks of the master: queue requests for a triggerable scheduler's builders (one
 * buildset), and wait for them. A request is complete once its last build ended (a RETRY queues it
 * again): this master's builds say so on the event bus; the database is also asked every 2 seconds
 * (one query for all the requests a step waits for), which covers builds on other masters and a
 * missed event. A nightly triggerable scheduler is armed instead (stored, for its next time): as in
 * Buildbot, nothing is requested now, so there is nothing to wait for.
 * When the master begins to stop, no request is triggered any more and every wait ends at once (the
 * requests not yet complete stay unfinished): the builds waiting are stopped by the shutdown anyway.
 */
import type { SchedulerConfig } from '../config/schedulers.ts';
import type { Repositories } from '../db/repositories.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { TriggeredRequest } from '../../steps/step-context.ts';
import type { SubmitBuildset } from '../scheduler/request-submitter.ts';
import { ShuttingDownError } from '../../core/errors/index.ts';
import { Results, type Result } from '../../core/results.ts';

export interface Triggerer {
  trigger(
    schedulerName: string,
    properties: Record<string, unknown>,
    changeids: number[],
    reason: string,
    parentBuildid: number,
  ): Promise<TriggeredRequest[]>;
  /** Resolves with each request's result, or with null for those still going when `signal` aborts. */
  wait(requests: TriggeredRequest[], signal: AbortSignal): Promise<TriggeredRequest[]>;
}

export function createTriggerer(
  schedulers: readonly SchedulerConfig[],
  repos: Repositories,
  bus: EventBus,
  submit: SubmitBuildset,
  /** Aborted when the master begins to stop. */
  shutdown: AbortSignal,
  now: () => number = Date.now,
): Triggerer {
  return {
    async trigger(schedulerName, properties, changeids, reason, parentBuildid) {
      const scheduler = schedulers.find((s) => s.name === schedulerName && (s.type === 'triggerable' || s.type === 'nightlyTriggerable'));
      if (!scheduler) throw new Error(`no triggerable scheduler named "${schedulerName}"`); // compile checks it
      if (shutdown.aborted) throw new ShuttingDownError('the master is shutting down: nothing is triggered');
      if (scheduler.type === 'nightlyTriggerable') {
        await repos.buildsets.arm(
          {
            scheduler: scheduler.name,
            properties: JSON.stringify(properties),
            changeids: JSON.stringify(changeids),
            parent_buildid: parentBuildid,
          },
          now(),
        );
        return [];
      }
      const requests = await submit({
        scheduler: scheduler.name,
        builderNames: scheduler.builderNames,
        reason,
        properties,
        changeids,
        parentBuildid,
      });
      return requests.map((r) => ({ builder: r.builder, buildrequestid: r.buildrequestid, results: null }));
    },

    wait(requests, signal) {
      const pending = new Map(requests.map((r) => [r.buildrequestid, { ...r }]));
      const done = [...pending.values()];
      return new Promise((resolve) => {
        let finished = false;
        let polling = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          off();
          clearInterval(poll);
          signal.removeEventListener('abort', finish);
          shutdown.removeEventListener('abort', finish);
          resolve(done);
        };
        const settle = (buildrequestid: number, results: Result) => {
          const r = finished ? undefined : pending.get(buildrequestid);
          if (!r) return;
          r.results = results;
          pending.delete(buildrequestid);
          if (pending.size === 0) finish();
        };
        const off = bus.subscribe('buildrequest.complete', (e) => settle(e.buildrequestid, e.results));
        const poll = setInterval(() => {
          if (polling) return;
          polling = true;
          repos.buildRequests
            .completedAmong([...pending.keys()])
            .then((rows) => rows.forEach((row) => settle(row.id, row.results ?? Results.EXCEPTION)))
            .catch(() => {}) // the database away: the next poll, or the event, settles it
            .finally(() => (polling = false));
        }, 2000);
        poll.unref();
        signal.addEventListener('abort', finish);
        shutdown.addEventListener('abort', finish);
        if (signal.aborted || shutdown.aborted || pending.size === 0) finish();
      });
    },
  };
}
