/**
 * Matches queued build requests with free agents and starts builds.
 *
 * States: idle -> passing -> idle; a wake-up during a pass sets `again`, so one more pass follows
 * (no wake-up is lost, no two passes overlap); stopped is terminal. Passes are triggered by new
 * requests, agents connecting or freeing up, and a slow poll that picks up requests other masters
 * sharing the database submitted.
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
    // Lock instances an older request waits for: newer requests may not take them in this pass, so a
    // build that needs a lock exclusively is not starved by a stream of builds counting on it.
    const reserved = new Set<string>();
    for (const request of await repos.buildRequests.unclaimed()) {
      if (this.state === 'stopped') return;
      const builder = buildersById.get(request.builderid);
      if (!builder) continue; // a builder this master does not run (removed from config, or another master's)
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
    }
  }
}
