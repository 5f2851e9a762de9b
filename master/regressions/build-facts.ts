/**
 * What the watcher needs to know of a build that measured a point: the branch it built (its series
 * are watched per branch), the revision (a change's before/after), the agent, and whether it is a
 * confirming rerun (whose points confirm a change instead of feeding the detector). Read from the
 * build's properties once and kept, bounded: history is read again and again, a build's facts never change.
 */
import type { BuildRow } from '../db/entities.ts';
import { parsePropertyMap, type PropertyValue } from '../../steps/properties/properties.ts';

export interface BuildFacts {
  buildid: number;
  builderid: number;
  buildrequestid: number;
  agent: string;
  branch: string | null;
  revision: string | null;
  /** The change point this build confirms (property `confirming`), or null. */
  confirming: number | null;
  /** The bisection this build is a probe of (property `bisect`), or null: built out of order, it is not history. */
  bisecting: number | null;
}

const textOf = (v: PropertyValue | undefined): string | null =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;

export function buildFacts(build: BuildRow): BuildFacts {
  const props = parsePropertyMap(build.properties, `build ${build.id}'s properties`);
  const value = (name: string) => textOf(props[name]?.[0]);
  const confirming = Number(value('confirming'));
  const bisecting = Number(value('bisect'));
  return {
    buildid: build.id,
    builderid: build.builderid,
    buildrequestid: build.buildrequestid,
    agent: build.agent,
    branch: value('branch'),
    revision: value('got_revision') ?? value('revision'),
    confirming: Number.isSafeInteger(confirming) && confirming > 0 ? confirming : null,
    bisecting: Number.isSafeInteger(bisecting) && bisecting > 0 ? bisecting : null,
  };
}

/**
 * Facts by build id, the longest known forgotten past `max`. Not reordered on a hit: a watched
 * series reads its recent history, whose builds are the newest entries anyway, and a build fed
 * every series of its history looked up hundreds of known builds (a Map delete and set each).
 */
export class BuildFactsCache {
  private readonly facts = new Map<number, BuildFacts | null>();

  constructor(
    private readonly read: (buildid: number) => Promise<BuildRow | null>,
    private readonly max = 10_000,
  ) {}

  /** The facts if known (null: no such build), else undefined: without a turn of the event loop. */
  known(buildid: number): BuildFacts | null | undefined {
    return this.facts.get(buildid);
  }

  async get(buildid: number): Promise<BuildFacts | null> {
    const known = this.facts.get(buildid);
    if (known !== undefined) return known;
    const row = await this.read(buildid);
    const facts = row ? buildFacts(row) : null;
    this.facts.set(buildid, facts);
    if (this.facts.size > this.max) {
      const oldest = this.facts.keys().next();
      if (!oldest.done) this.facts.delete(oldest.value);
    }
    return facts;
  }
}
