/**
 * Matches queued build requests with free agents and starts builds.
 *
 * States: idle -> passing -> idle; a wake-up during a pass sets `again`, so one more pass follows
 * (no wake-up is lost, no two passes overlap); stopped is terminal. Passes are triggered by new
 * requests, agents connecting or freeing up, and a slow poll that picks up requests other masters
 * sharing the database submitted. A pass reads, of each builder that could start a build now, its
 * oldest requests (see candidates()), and tries them oldest first across builders.
 */
import type { CompiledBuilder } from '../config/compile.ts';
import type { Repositories } from '../db/repositories.ts';
import type { BuildRequestRow } from '../db/entities.ts';
import type { Logger } from '../../core/logger.ts';
import type { AgentRegistry, AgentEntry } from '../agents/agent-registry.ts';
import type { HeldLocks, LockSet } from './lock-set.ts';

export interface ClaimerDeps {
  repos: Repositories;
  registry: AgentRegistry;
  log: Logger;
  masterid: number;
  now: () => number;
  buildersById: Map<number, CompiledBuilder>;
  locks: LockSet;
  /** Starts the build; `locks` must be released when it ends. */
  startBuild(builder: CompiledBuilder, builderid: number, request: BuildRequestRow, agent: AgentEntry, locks: HeldLocks): void;
}

export class RequestClaimer {
  private state: 'idle' | 'passing' | 'stopped' = 'idle';
  private again = false;
  private poll: NodeJS.Timeout | null = null;
  private current: Promise<void> = Promise.resolve();

  constructor(private readonly deps: ClaimerDeps) {}

  start(pollMs = 2000): void {
    this.poll = setInterval(() => this.wake(), pollMs);
    this.wake();
  }

  stop(): Promise<void> {
    this.state = 'stopped';
    if (this.poll) clearInterval(this.poll);
    return this.current;
  }

  /** A getter: TypeScript narrows `state` after the check at the loop's top and would not see stop() change it. */
  private get stopped(): boolean {
    return this.state === 'stopped';
  }

  wake(): void {
    if (this.state === 'stopped') return;
    if (this.state === 'passing') {
      this.again = true;
      return;
    }
    this.state = 'passing';
    this.current = this.pass()
      .catch((e: unknown) => this.deps.log.error('claiming requests failed', { error: String(e) }))
      .finally(() => {
        if (this.state === 'stopped') return;
        this.state = 'idle';
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async pass(): Promise<void> {
    const { repos, registry, buildersById, locks } = this.deps;
    const { builderids, perBuilder } = this.candidates();
    const requests = await repos.buildRequests.unclaimed(builderids, perBuilder);
    // Lock instances an older request waits for: newer requests may not take them in this pass, so a
    // build that needs a lock exclusively is not starved by a stream of builds counting on it.
    const reserved = new Set<string>();
    let started = 0;
    for (const request of requests) {
      if (this.state === 'stopped') return;
      const builder = buildersById.get(request.builderid);
      if (!builder) continue; // not a candidate: unclaimed() only returns the builders asked for
      const agent = registry.findFree(builder, (name) => locks.available(builder.locks, name, reserved));
      if (!agent) {
        if (builder.locks.length > 0 && registry.hasFitting(builder)) {
          // Locks that keep it waiting: on a free agent, or (its agents all busy) the master locks.
          const free = registry.findFree(builder);
          for (const key of locks.blocking(builder.locks, free ? free.config.name : null)) reserved.add(key);
        }
        continue;
      }
      if (!(await repos.buildRequests.claim(request.id, this.deps.masterid, this.deps.now()))) continue;
      if (this.stopped) {
        // stop() came while the claim was in flight: no build starts during shutdown.
        await repos.buildRequests.unclaim(request.id);
        return;
      }
      registry.acquire(agent.config.name, builder.name);
      this.deps.startBuild(builder, request.builderid, request, agent, locks.take(builder.locks, agent.config.name));
      started++;
    }
    // A builder's queue was read only in part and builds started: its next requests may fit too.
    if (started > 0 && readInPart(requests, perBuilder)) this.again = true;
  }

  /**
   * The builders worth reading the queue of: those this master runs with a free agent that fits, and
   * those with locks and a fitting agent (their oldest request reserves the locks it waits for).
   * Builders whose agents are all offline are left out in the query itself, so their requests,
   * however many, never hide the others'. Per builder, no more requests than agents with a free
   * slot: one pass starts at most one build of a builder per agent.
   */
  private candidates(): { builderids: number[]; perBuilder: number } {
    const { registry, buildersById } = this.deps;
    const slots = registry.list().filter(({ connected: a }) => a && a.running < Math.min(a.config.maxBuilds, a.info.capacity)).length;
    if (slots === 0) return { builderids: [], perBuilder: 0 };
    const builderids: number[] = [];
    for (const [id, builder] of buildersById) {
      if (registry.findFree(builder) || (builder.locks.length > 0 && registry.hasFitting(builder))) builderids.push(id);
    }
    return { builderids, perBuilder: Math.min(slots, MAX_PER_BUILDER) };
  }
}

/** Requests read per builder in one pass at most; a pass that used them all is followed by another. */
const MAX_PER_BUILDER = 50;

function readInPart(requests: readonly BuildRequestRow[], perBuilder: number): boolean {
  const counts = new Map<number, number>();
  for (const r of requests) counts.set(r.builderid, (counts.get(r.builderid) ?? 0) + 1);
  return [...counts.values()].some((n) => n >= perBuilder);
}
