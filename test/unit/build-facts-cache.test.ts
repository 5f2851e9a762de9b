/**
 * The regression watcher's cache of build facts (master/regressions/build-facts.ts): each build is
 * read once, known facts come back without a read (and, through known(), without a turn of the
 * event loop), a missing build is remembered as null, and past `max` the longest known is forgotten.
 */
import { describe, expect, it } from 'vitest';
import { BuildFactsCache } from '../../master/regressions/build-facts.ts';
import type { BuildRow } from '../../master/db/entities.ts';

function row(id: number, branch: string): BuildRow {
  return {
    id,
    builderid: 1,
    buildrequestid: id,
    number: id,
    masterid: 1,
    agent: 'a1',
    started_at: 0,
    complete_at: 1,
    results: 0,
    state_string: 'build successful',
    properties: JSON.stringify({ branch: [branch, 'Build'], got_revision: [`rev${id}`, 'Git'] }),
  };
}

describe('BuildFactsCache', () => {
  it('reads each build once, remembers a missing one, and forgets the longest known past max', async () => {
    const reads: number[] = [];
    const cache = new BuildFactsCache(async (id) => {
      reads.push(id);
      return id === 404 ? null : row(id, `b${id}`);
    }, 3);
    expect(cache.known(1)).toBeUndefined();
    expect(await cache.get(1)).toMatchObject({ buildid: 1, branch: 'b1', revision: 'rev1', confirming: null, bisecting: null });
    expect(cache.known(1)).toMatchObject({ buildid: 1, branch: 'b1' });
    await cache.get(1);
    expect(await cache.get(404)).toBeNull();
    expect(cache.known(404)).toBeNull();
    await cache.get(404);
    expect(reads).toEqual([1, 404]);
    await cache.get(2);
    await cache.get(3); // a fourth build: 1, the longest known, goes
    expect(cache.known(1)).toBeUndefined();
    expect(cache.known(404)).toBeNull();
    await cache.get(1);
    expect(reads).toEqual([1, 404, 2, 3, 1]);
  });
});
