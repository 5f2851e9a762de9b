/**
 * What a Trigger step asks of the master: queue requests for a triggerable scheduler's builders, and
 * wait for them. A request is complete once its last build ended (a RETRY queues it again): that
 * moment is heard on the event bus (this master's builds, and others' through the fan-out between
 * masters), and checked in the database every second in case the event was missed.
 */
import type { SchedulerConfig } from '../config/schedulers.ts';
import type { Repositories } from '../db/repositories.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { TriggeredRequest } from '../../steps/step-context.ts';

export interface Triggerer {
  trigger(schedulerName: string, properties: Record<string, unknown>, changeids: number[], reason: string): Promise<TriggeredRequest[]>;
  /** Resolves with each request's result, or with null for those still going when `signal` aborts. */
  wait(requests: TriggeredRequest[], signal: AbortSignal): Promise<TriggeredRequest[]>;
}

export function createTriggerer(
  schedulers: SchedulerConfig[],
  repos: Repositories,
  bus: EventBus,
  submit: (builderName: string, reason: string, properties: Record<string, unknown>, changeids: number[]) => Promise<number>,
): Triggerer {
  return {
    async trigger(schedulerName, properties, changeids, reason) {
      const scheduler = schedulers.find((s) => s.name === schedulerName && s.type === 'triggerable');
      if (!scheduler) throw new Error(`no triggerable scheduler named "${schedulerName}"`); // compile checks it
      const requests: TriggeredRequest[] = [];
      for (const builder of scheduler.builderNames) {
        requests.push({ builder, buildrequestid: await submit(builder, reason, properties, changeids), results: null });
      }
      return requests;
    },

    wait(requests, signal) {
      const pending = new Map(requests.map((r) => [r.buildrequestid, { ...r }]));
      const done = [...pending.values()];
      return new Promise((resolve) => {
        const finish = () => {
          off();
          clearInterval(poll);
          signal.removeEventListener('abort', finish);
          resolve(done);
        };
        const settle = (buildrequestid: number, results: number) => {
          const r = pending.get(buildrequestid);
          if (!r) return;
          r.results = results;
          pending.delete(buildrequestid);
          if (pending.size === 0) finish();
        };
        const off = bus.subscribe('buildrequest.complete', (e) => settle(e.buildrequestid, e.results));
        const poll = setInterval(() => {
          for (const id of pending.keys()) {
            void repos.buildRequests
              .get(id)
              .then((row) => row?.complete && settle(id, row.results ?? 4))
              .catch(() => {}); // the database away: the next poll, or the event, settles it
          }
        }, 1000);
        signal.addEventListener('abort', finish);
        if (signal.aborted || pending.size === 0) finish();
      });
    },
  };
}
