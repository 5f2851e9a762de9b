/**
 * Confirming reruns: the builder of a worse change is asked again, `confirm.reruns` times, for the
 * source of the first build after the change (its request's properties and changes, as a rebuild
 * does), through the one request submitter. One set of reruns serves every change the same build
 * revealed (each rerun measures all their series). Each request carries `confirming=<change point
 * id>` (the first of them: the watcher reads the rerun's values into the confirmation of each,
 * instead of the detector) and
 * `confirming_agent=<agent of that build>` (what `confirm.agent` compares with: confirm-agent.ts).
 */
import type { Logger } from '../../core/logger.ts';
import { parsePropertyValues } from '../../steps/properties/properties.ts';
import type { ChangePointRow } from '../db/change-points.ts';
import type { Repositories } from '../db/repositories.ts';
import type { SubmitRequest } from '../scheduler/request-submitter.ts';
import type { WatchedBuilder } from './regression-watcher.ts';

export interface ConfirmRerunsDeps {
  repos: Pick<Repositories, 'builds' | 'buildRequests' | 'changes'>;
  submit: SubmitRequest;
  log: Logger;
}

export const confirmingReason = (id: number): string => `confirming change point #${id}`;

export function confirmReruns(deps: ConfirmRerunsDeps): (change: ChangePointRow, builder: WatchedBuilder) => Promise<void> {
  return async (change, builder) => {
    const reruns = builder.confirm?.reruns ?? 0;
    const buildid = change.after_buildid ?? change.detected_by;
    const build = buildid === null ? null : await deps.repos.builds.get(buildid);
    const request = build ? await deps.repos.buildRequests.get(build.buildrequestid) : null;
    if (!build || !request) {
      deps.log.warn('confirming reruns: the build after the change is gone; they are not requested', { id: change.id, buildid });
      return;
    }
    const properties = {
      ...parsePropertyValues(request.properties, `request ${request.id}'s properties`),
      confirming: change.id,
      confirming_agent: build.agent,
    };
    const changeids = (await deps.repos.changes.ofBuildRequest(request.id)).rows.map((c) => c.id);
    for (let i = 0; i < reruns; i++) await deps.submit(builder.name, confirmingReason(change.id), properties, changeids);
  };
}
