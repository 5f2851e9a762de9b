/**
 * Matches queued build requests with free agents and starts builds.
 *
 * States: idle -> scheduled -> passing -> idle; a wake-up while scheduled is already served by the
 * pass about to start, one during a pass sets `again`, so one more pass follows (no wake-up is lost,
 * no two passes overlap); stopped is terminal. A pass starts on the next turn of the event loop
 * (setImmediate), not at once: a burst of wake-ups in one turn (agents connecting together, requests
 * forced together, builds ending together) costs one read of the queue, not one each. Passes are triggered by new
 * requests, agents connecting or freeing up, and a slow poll that picks up requests other masters
 * sharing the database submitted. While held (hold(), for a reconfig), a wake-up is remembered and
 * no pass starts until the hold is released.
 *
 * A pass reads, of each builder that could start a build now, its first requests (see candidates()),
 * and tries them highest priority first, then oldest, across builders; with the config's
 * `prioritizeBuilders`, builder by builder in the order it gives. For each request the agent is the
 * least busy free one that fits (found by index in the registry, not by scan), or the one the
 * builder's `nextAgent` picks, vetted by its `canStartBuild`. A queue function that throws or hangs
 * is logged and its request stays queued (queue-hooks.ts): the claimer never stops for it. The
 * requests a pass matched with agents are claimed together, in one statement (claimAndStart()).
 */
import type { CompiledBuilder } from '../config/compile.ts';
import type { Repositories } from '../db/repositories.ts';
import type { BuildRequestRow } from '../db/entities.ts';
import type { Logger } from '../../core/logger.ts';
import type { AgentRegistry, AgentEntry } from '../agents/agent-registry.ts';
import type { HeldLocks, LockSet } from './lock-set.ts';
import {
  HOOK_FAILED,
  agentChoice,
  callHook,
  queueBuilder,
  queuedRequest,
  type AgentChoice,
  type PendingBuilder,
  type PrioritizeBuilders,
  type QueuedRequest,
} from './queue-hooks.ts';

export interface ClaimerDeps {
  repos: Repositories;
  registry: AgentRegistry;
  log: Logger;
  masterid: number;
  now: () => number;
  buildersById: Map<number, CompiledBuilder>;
  locks: LockSet;
  /** The config's `prioritizeBuilders`: the order builders are served in, instead of by their requests' priority and age. */
  prioritizeBuilders?: PrioritizeBuilders | undefined;
  /** Starts the build; `locks` must be released when it ends. */
  startBuild(builder: CompiledBuilder, builderid: number, request: BuildRequestRow, agent: AgentEntry, locks: HeldLocks): void;
}

/** A request matched with a free agent in a pass, holding the agent's slot and the builder's locks until claimed. */
interface Match {
  builder: CompiledBuilder;
  request: BuildRequestRow;
  agent: AgentEntry;
  locks: HeldLocks;
}

export class RequestClaimer {
  private state: 'idle' | 'scheduled' | 'passing' | 'stopped' = 'idle';
  private again = false;
  private poll: NodeJS.Timeout | null = null;
  private current: Promise<void> = Promise.resolve();
  private held = false;

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

  /**
   * Waits for the pass under way to end and keeps the next one from starting until the returned
   * release is called: a reconfig swaps builders and agents between passes, never under one.
   */
  async hold(): Promise<() => void> {
    this.held = true;
    await this.current;
    return () => {
      this.held = false;
      this.again = false;
      this.wake();
    };
  }

  wake(): void {
    if (this.state === 'stopped' || this.state === 'scheduled') return;
    if (this.state === 'passing' || this.held) {
      this.again = true;
      return;
    }
    this.state = 'scheduled';
    this.current = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        if (this.state !== 'scheduled') return; // stopped meanwhile
        if (this.held) {
          this.again = true; // served when the hold is released
          return;
        }
        this.state = 'passing';
        return this.pass();
      })
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
    const read = await repos.buildRequests.unclaimed(builderids, perBuilder);
    const requests = await this.ordered(read);
    // Lock instances an older request waits for: newer requests may not take them in this pass, so a
    // build that needs a lock exclusively is not starved by a stream of builds counting on it.
    const reserved = new Set<string>();
    // Builders whose queue function failed in this pass: their other requests wait for the next one.
    const failed = new Set<number>();
    // Matched first, then claimed together (one statement, one commit), then started. A match holds
    // its agent's slot and its locks from the moment it is made, so the requests after it in this
    // pass see them taken, as they did when each request was claimed before the next was matched.
    const matched: Match[] = [];
    for (const request of requests) {
      if (this.stopped) break;
      const builder = buildersById.get(request.builderid);
      if (!builder || failed.has(request.builderid)) continue; // not a candidate: unclaimed() only returns the builders asked for
      const agent = await this.chooseAgent(builder, request, reserved);
      if (agent === HOOK_FAILED) failed.add(request.builderid);
      // A queue function may have taken a while: the agent may have gone meanwhile.
      if (agent === HOOK_FAILED || agent === null || !agent.handle.connected || this.stopped) continue;
      registry.acquire(agent.config.name, builder.name);
      matched.push({ builder, request, agent, locks: locks.take(builder.locks, agent.config.name) });
    }
    const started = await this.claimAndStart(matched);
    // A builder's queue was read only in part and builds started: its next requests may fit too.
    if (started > 0 && readInPart(read, perBuilder)) this.again = true;
  }

  /**
   * Claims the matched requests in one statement and starts the builds of those this master got;
   * the others (claimed by another master or cancelled meanwhile, or matched with an agent that went
   * away during the claim) give their agent's slot and their locks back. The builds started.
   */
  private async claimAndStart(matched: Match[]): Promise<number> {
    if (matched.length === 0) return 0;
    const { repos, registry } = this.deps;
    const giveBack = (m: Match) => {
      m.locks.release();
      registry.release(m.agent.config.name, m.builder.name);
    };
    let claimed: Set<number>;
    try {
      claimed = this.stopped
        ? new Set()
        : await repos.buildRequests.claimMany(
            matched.map((m) => m.request.id),
            this.deps.masterid,
            this.deps.now(),
          );
    } catch (e) {
      matched.forEach(giveBack);
      throw e;
    }
    let started = 0;
    for (const m of matched) {
      if (claimed.has(m.request.id) && !this.stopped && m.agent.handle.connected) {
        this.deps.startBuild(m.builder, m.request.builderid, m.request, m.agent, m.locks);
        started++;
        continue;
      }
      // stop() came while the claim was in flight (no build starts during shutdown), or the agent left.
      if (claimed.has(m.request.id)) await repos.buildRequests.unclaim(m.request.id);
      giveBack(m);
    }
    return started;
  }

  /**
   * The agent to run `request` on: without queue functions, the least busy free agent that fits and
   * whose locks are free; null when there is none (or the functions chose none): the request waits.
   */
  private async chooseAgent(
    builder: CompiledBuilder,
    request: BuildRequestRow,
    reserved: Set<string>,
  ): Promise<AgentEntry | null | typeof HOOK_FAILED> {
    const { registry, locks } = this.deps;
    const lockable = (name: string) => locks.available(builder.locks, name, reserved);
    if (!builder.nextAgent && !builder.canStartBuild) {
      const agent = registry.findFree(builder, lockable);
      if (!agent) this.reserveLocks(builder, reserved);
      return agent;
    }
    const view = queueBuilder(builder);
    let parsed: QueuedRequest | undefined;
    // Made inside the call, so a request whose stored properties cannot be read fails like the function would.
    const requestView = () => (parsed ??= queuedRequest(request, builder.name));
    const context = { builder: builder.name, buildrequestid: request.id };
    const canStart = async (agent: AgentEntry, choice: AgentChoice) => {
      if (!builder.canStartBuild) return true;
      const check = builder.canStartBuild;
      const answer = await callHook(this.deps.log, 'canStartBuild', { ...context, agent: agent.config.name }, () =>
        check(view, choice, requestView()),
      );
      return answer === HOOK_FAILED ? answer : answer === true;
    };

    if (!builder.nextAgent) {
      // canStartBuild alone: the free agents least busy first, until one is accepted.
      let lockedOut = true;
      const tried = new Set<AgentEntry>();
      for (const agent of registry.freeFor(builder)) {
        if (tried.has(agent) || !lockable(agent.config.name)) continue;
        tried.add(agent);
        lockedOut = false;
        const ok = await canStart(agent, agentChoice(agent));
        if (ok === HOOK_FAILED) return ok;
        if (ok) return agent;
      }
      if (lockedOut) this.reserveLocks(builder, reserved);
      return null;
    }

    const pick = builder.nextAgent;
    const pool = [...registry.freeFor(builder)].filter((a) => lockable(a.config.name));
    if (pool.length === 0) {
      this.reserveLocks(builder, reserved);
      return null;
    }
    const choices = pool.map(agentChoice);
    // As Buildbot's chooser: ask for an agent, and while canStartBuild refuses it, ask again without it.
    while (choices.length > 0) {
      const offered = [...choices];
      const picked = await callHook(this.deps.log, 'nextAgent', context, () => pick(view, offered, requestView()));
      if (picked === HOOK_FAILED) return picked;
      // One of the choices offered, or its name.
      const name = typeof picked === 'string' ? picked : typeof picked === 'object' && picked !== null ? picked.name : undefined;
      const i = name === undefined ? -1 : choices.findIndex((c) => c === picked || c.name === name);
      if (i < 0) return null; // none, or one that was not offered: the request waits
      const agent = pool[i];
      const choice = choices[i];
      if (!agent || !choice) return null;
      pool.splice(i, 1);
      choices.splice(i, 1);
      const ok = await canStart(agent, choice);
      if (ok === HOOK_FAILED) return ok;
      if (ok) return agent;
    }
    return null;
  }

  /** No free agent had the builder's locks free: reserve the instances that block it (see pass()). */
  private reserveLocks(builder: CompiledBuilder, reserved: Set<string>): void {
    const { registry, locks } = this.deps;
    if (builder.locks.length === 0 || !registry.hasFitting(builder)) return;
    // Locks that keep it waiting: on a free agent, or (its agents all busy) the master locks.
    const free = registry.findFree(builder);
    for (const key of locks.blocking(builder.locks, free ? free.config.name : null)) reserved.add(key);
  }

  /**
   * The requests in the order to try them: as read (highest priority, then oldest), or builder by
   * builder in the order `prioritizeBuilders` gives (each builder's own requests still highest
   * priority, then oldest). Builders it leaves out wait for the next pass; when it fails, the
   * default order is used.
   */
  private async ordered(read: BuildRequestRow[]): Promise<BuildRequestRow[]> {
    const sorter = this.deps.prioritizeBuilders;
    if (!sorter || read.length === 0) return read;
    const { buildersById, repos } = this.deps;
    const ids = [...new Set(read.map((r) => r.builderid))];
    const heads = await repos.buildRequests.queueHeads(ids);
    const pending: PendingBuilder[] = ids.flatMap((id) => {
      const builder = buildersById.get(id);
      const head = heads.get(id);
      return builder && head
        ? [{ ...queueBuilder(builder), oldestRequestTime: new Date(head.oldestSubmittedAt), highestPriority: head.highestPriority }]
        : [];
    });
    const answer = await callHook(this.deps.log, 'prioritizeBuilders', { builders: pending.length }, () => sorter(pending));
    if (answer === HOOK_FAILED) return read;
    if (!Array.isArray(answer)) {
      this.deps.log.error('prioritizeBuilders failed; the queue goes on without it', {
        error: 'it must return an array of builders (or their names)',
      });
      return read;
    }
    const rank = new Map<string, number>();
    (answer as unknown[]).forEach((b, i) => {
      const name = typeof b === 'string' ? b : typeof b === 'object' && b !== null && 'name' in b ? b.name : undefined;
      if (typeof name === 'string' && !rank.has(name)) rank.set(name, i);
    });
    const rankOf = (r: BuildRequestRow) => rank.get(buildersById.get(r.builderid)?.name ?? '');
    // Array.prototype.sort is stable: within a builder, the order read stays.
    return read.filter((r) => rankOf(r) !== undefined).sort((a, b) => (rankOf(a) ?? 0) - (rankOf(b) ?? 0));
  }

  /**
   * The builders worth reading the queue of: those this master runs with a free agent that fits, and
   * those with locks and a fitting agent (their oldest request reserves the locks it waits for).
   * Builders whose agents are all offline are left out in the query itself, so their requests,
   * however many, never hide the others'. Per builder, no more requests than free slots: one pass
   * starts at most one build of a builder per agent. O(builders): each check is a look-up in the
   * registry's index.
   */
  private candidates(): { builderids: number[]; perBuilder: number } {
    const { registry, buildersById } = this.deps;
    const slots = registry.freeSlots;
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
