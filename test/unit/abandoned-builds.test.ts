/**
 * What a master finds at start-up that its dead previous run left behind. Found by the soak
 * (bench/soak.ts): a master SIGKILLed between storing a build's end and completing its request
 * left the request claimed and incomplete; the next start put it back in the queue and it was
 * built a second time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.ts';
import { Results } from '../../core/results.ts';
import { recoverAbandoned } from '../../master/build/abandoned-builds.ts';
import { openBuildBench, type BuildBench } from '../helpers/build-fixture.ts';

let bench: BuildBench;
beforeAll(async () => {
  bench = await openBuildBench();
});
afterAll(() => bench.close());

async function claimedRequest(masterName: string) {
  const { repos } = bench;
  const master = await repos.masters.register(masterName, Date.now());
  const builder = (await repos.builders.sync([{ name: `b-${masterName}`, tags: [] }])).get(`b-${masterName}`);
  if (!builder) throw new Error('builder not stored');
  const request = await repos.buildRequests.create({ builderid: builder.id, reason: 'test', properties: {} }, Date.now());
  await repos.buildRequests.claim(request.id, master.id, Date.now());
  return { masterid: master.id, builderid: builder.id, request };
}

describe('recoverAbandoned', () => {
  it('completes a request whose build had ended, with its result, instead of building it again', async () => {
    const { repos } = bench;
    const { masterid, builderid, request } = await claimedRequest('died-after-build-end');
    const build = await repos.builds.create({
      builderid,
      buildrequestid: request.id,
      masterid,
      agent: 'a1',
      started_at: 1_000,
      state_string: 'starting',
      properties: '{}',
    });
    // The build's end was stored; the master died before completing the request.
    await repos.builds.update(build.id, { results: Results.WARNINGS, complete_at: 1_005, state_string: 'warnings lint' });

    await recoverAbandoned(repos, masterid, () => 2_000, silentLogger);

    expect(await repos.buildRequests.get(request.id)).toMatchObject({ complete: true, results: Results.WARNINGS, complete_at: 1_005 });
  });

  it('puts a request back in the queue when its build ended RETRY or it never had one', async () => {
    const { repos } = bench;
    const never = await claimedRequest('died-before-build');
    await recoverAbandoned(repos, never.masterid, () => 2_000, silentLogger);
    expect(await repos.buildRequests.get(never.request.id)).toMatchObject({ complete: false, claimed_by_masterid: null });

    const retried = await claimedRequest('died-after-retry');
    const build = await repos.builds.create({
      builderid: retried.builderid,
      buildrequestid: retried.request.id,
      masterid: retried.masterid,
      agent: 'a1',
      started_at: 1_000,
      state_string: 'starting',
      properties: '{}',
    });
    await repos.builds.update(build.id, { results: Results.RETRY, complete_at: 1_005, state_string: 'retry: agent lost' });
    await recoverAbandoned(repos, retried.masterid, () => 2_000, silentLogger);
    expect(await repos.buildRequests.get(retried.request.id)).toMatchObject({ complete: false, claimed_by_masterid: null });
  });
});
