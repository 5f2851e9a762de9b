/**
 * Bisections as the rest of the master sees them: started by a confirmed, worse change point of a
 * builder with `bisect` (the regression watcher's `changepoint.detected`), or by hand through the
 * API; resumed at start-up; moved on when one of their build requests completes.
 */
import { BadRequestError, ConflictError, NotFoundError } from '../../core/errors/index.ts';
import type { Logger } from '../../core/logger.ts';
import type { CompiledBuilder } from '../config/compile.ts';
import type { BisectionsRepo } from '../db/bisections.ts';
import type { ChangePointEvent, EventBus } from '../events/event-bus.ts';
import { gitRepourlOf } from './bisect-options.ts';
import { Bisector, type BisectableBuilder, type BisectorDeps } from './bisector.ts';
import { KeyedLock } from '../reporters/keyed-lock.ts';

/** How often running bisections are looked at besides the events (builds that ran on another master). */
const POLL_MS = 15_000;

export interface ManualBisection {
  builder: string;
  series: string;
  tags?: Record<string, string> | undefined;
  good: string;
  bad: string;
  branch?: string | undefined;
}

export interface Bisections {
  readonly repo: BisectionsRepo;
  /** Starts a bisection by hand (POST /api/v2/bisections): its id. */
  startByHand(input: ManualBisection): Promise<number>;
  /** The builder's name, for the API. */
  builderName(id: number): string | null;
  stop(): Promise<void>;
}

export function startBisections(
  deps: Omit<BisectorDeps, 'builder'> & {
    bus: Pick<EventBus, 'subscribe'>;
    buildersById: ReadonlyMap<number, CompiledBuilder>;
    log: Logger;
  },
): Bisections {
  const builder = (id: number): BisectableBuilder | undefined => {
    const b = deps.buildersById.get(id);
    return b ? { id, name: b.name, bisect: b.bisect, repourl: gitRepourlOf(b.steps) } : undefined;
  };
  const bisector = new Bisector({ ...deps, builder });
  // The same change point published twice at once must not start two bisections.
  const starting = new KeyedLock();

  const onChangePoint = async (cp: ChangePointEvent) => {
    if (!cp.confirmed || cp.direction !== 'worse' || cp.builderid === null) return;
    const b = builder(cp.builderid);
    const good = cp.before.revision;
    const bad = cp.after.revision;
    if (!b?.bisect || b.repourl === null || good === null || bad === null || good === bad) return;
    const borrow = [cp.before.buildid, cp.after.buildid].filter((id): id is number => id !== null);
    const repourl = b.repourl;
    const id = await starting.run(String(cp.id), async () => {
      if ((await deps.bisections.ofChangePoint(cp.id)) !== null) return null; // published again: already bisecting
      const fields = { builderid: b.id, series: cp.series, tags: cp.tags, branch: cp.branch, good, bad, repourl, changepointid: cp.id };
      return bisector.start(fields, borrow);
    });
    if (id !== null)
      deps.log.info('bisecting a change point', { bisection: id, changepoint: cp.id, builder: b.name, series: cp.series, good, bad });
  };
  const unsubscribe = [
    deps.bus.subscribe('changepoint.detected', (cp) => {
      onChangePoint(cp).catch((e: unknown) => deps.log.error('starting a bisection failed', { changepoint: cp.id, error: String(e) }));
    }),
    deps.bus.subscribe('buildrequest.complete', (e) => {
      bisector
        .requestCompleted(e.buildrequestid)
        .catch((err: unknown) => deps.log.error('bisection lookup failed', { error: String(err) }));
    }),
  ];
  const resume = () => bisector.resume().catch((e: unknown) => deps.log.error('resuming bisections failed', { error: String(e) }));
  void resume();
  const poll = setInterval(() => void resume(), POLL_MS);
  poll.unref();

  return {
    repo: deps.bisections,
    async startByHand(input) {
      const id = [...deps.buildersById].find(([, c]) => c.name === input.builder)?.[0];
      if (id === undefined) throw new NotFoundError(`builder "${input.builder}" not found`);
      const b = builder(id);
      if (!b?.bisect)
        throw new ConflictError(`builder "${input.builder}" has no bisect option: give it bisect: { maxBuilds, maxPerDay } (its budget)`);
      if (b.repourl === null) throw new ConflictError(`builder "${input.builder}" has no Git step with a plain repourl to bisect`);
      if (input.good === input.bad) throw new BadRequestError('good and bad are the same revision');
      return bisector.start({
        builderid: id,
        series: input.series,
        tags: input.tags ?? {},
        branch: input.branch ?? null,
        good: input.good,
        bad: input.bad,
        repourl: b.repourl,
        changepointid: null,
      });
    },
    builderName: (id) => deps.buildersById.get(id)?.name ?? null,
    async stop() {
      clearInterval(poll);
      for (const u of unsubscribe) u();
      await bisector.stop();
    },
  };
}
