/**
 * Nightly triggerable schedulers (Buildbot's NightlyTriggerable): a Trigger step arms one with its
 * properties and changes (master/build/triggerer.ts stores them, replacing an earlier arming); at
 * the scheduler's times (a cron pattern or Buildbot's Nightly fields, cron.ts) it builds its builders
 * with the last arming, its own `properties` under the trigger's, and is disarmed. Not armed since
 * its last build: nothing is built.
 *
 * The arming is stored, so it outlives a restart; taking it and submitting the buildset is one
 * transaction (master/db/buildsets.ts), so of masters sharing a database, which all fire their
 * schedulers, exactly one builds it. A time missed while the master was down is not made up (as
 * Buildbot's): the arming waits for the next one.
 */
import { z } from 'zod';
import type { NightlyTriggerableSchedulerConfig, SchedulerConfig } from '../config/schedulers.ts';
import type { Repositories } from '../db/repositories.ts';
import type { NightlyArmRow } from '../db/entities.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../../core/logger.ts';
import { parseJson } from '../../core/parse-json.ts';
import { parsePropertyValues } from '../../steps/properties/properties.ts';
import { announce, buildsetToStore, followersOf, type MatrixCells } from './request-submitter.ts';
import type { QueuePriorities } from './request-priority.ts';
import { cronJob } from './cron.ts';

const changeids = z.array(z.number().int().positive());

export function startNightlyTriggerableSchedulers(deps: {
  schedulers: readonly SchedulerConfig[];
  repos: Repositories;
  bus: EventBus;
  builderIds: ReadonlyMap<string, number>;
  log: Logger;
  now: () => number;
  /** The schedulers' and builders' `priority` (request-priority.ts). */
  priorities?: QueuePriorities;
  /** The matrix builders' cells (request-submitter.ts). */
  matrices?: MatrixCells;
}): () => void {
  const followers = followersOf(deps.schedulers);
  const build = (s: NightlyTriggerableSchedulerConfig, arm: NightlyArmRow) =>
    buildsetToStore(
      {
        scheduler: s.name,
        builderNames: s.builderNames,
        reason: s.reason ?? `The NightlyTriggerable scheduler '${s.name}' triggered this build`,
        // As Buildbot: the scheduler's properties, overridden by those the Trigger step set.
        properties: { ...s.properties, ...parsePropertyValues(arm.properties, `the arming of scheduler "${s.name}"`) },
        changeids: parseJson(arm.changeids, changeids, `the changes of scheduler "${s.name}"'s arming`),
        parentBuildid: arm.parent_buildid,
      },
      deps.builderIds,
      followers,
      deps.priorities,
      deps.matrices,
    );
  const jobs = deps.schedulers
    // Without builders there is nothing to build (compile warns of it).
    .filter((s): s is NightlyTriggerableSchedulerConfig => s.type === 'nightlyTriggerable' && s.builderNames.length > 0)
    .map((s) =>
      cronJob(s, async () => {
        try {
          const submitted = await deps.repos.buildsets.fireArm(s.name, (arm) => build(s, arm), deps.now());
          if (submitted) announce(deps.bus, submitted.requests);
        } catch (e) {
          // Still armed (the transaction rolled back): the next time builds it.
          deps.log.error('nightly triggerable scheduler failed', { scheduler: s.name, error: String(e) });
        }
      }),
    );
  return () => jobs.forEach((j) => j.stop());
}
