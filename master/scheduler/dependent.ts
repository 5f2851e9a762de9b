/**
 * Dependent schedulers (Buildbot's Dependent): when a buildset of the `upstream` scheduler completes
 * with SUCCESS or WARNINGS, a buildset of the dependent's builders, with the upstream buildset's
 * source (its `branch`, `revision`, `repository`, `project`, `codebase`), its changes and their
 * properties, and the dependent's own `properties` (as Buildbot: not the upstream's others). Any
 * other result, and the wait simply ends.
 *
 * What to wait for is stored with each upstream buildset (`dependent_waits`, request-submitter.ts),
 * so nothing is lost while a master is down: at start every completed wait is settled. Ending a
 * wait and submitting the downstream buildset is one transaction that only one master can make
 * (master/db/buildsets.ts), so masters sharing a database never build twice.
 *
 * A check runs at start, on every `buildrequest.complete` of this master, and every `pollMs` (the
 * requests other masters complete). Per scheduler, checks never overlap:
 *   idle -> checking -> idle;  checking -> checking again (asked meanwhile) -> checking -> idle;
 *   any -> stopped (no check starts; the one running ends).
 */
import type { DependentSchedulerConfig, SchedulerConfig } from '../config/schedulers.ts';
import type { CompletedWait, NewBuildset } from '../db/buildsets.ts';
import type { Repositories } from '../db/repositories.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../../core/logger.ts';
import { resultName, Results } from '../../core/results.ts';
import { parsePropertyValues, type PropertyValue } from '../../steps/properties/properties.ts';
import { announce, buildsetToStore, followersOf, type MatrixCells } from './request-submitter.ts';
import type { QueuePriorities } from './request-priority.ts';

/** The properties that say what a buildset builds (Caliper's source stamp), passed downstream. */
export const SOURCE_PROPERTIES = ['branch', 'revision', 'repository', 'project', 'codebase'] as const;

export interface DependentDeps {
  schedulers: readonly SchedulerConfig[];
  repos: Repositories;
  bus: EventBus;
  builderIds: ReadonlyMap<string, number>;
  log: Logger;
  now: () => number;
  /** How often the database is asked for upstream buildsets other masters completed. */
  pollMs?: number;
  /** The schedulers' and builders' `priority` (request-priority.ts). */
  priorities?: QueuePriorities;
  /** The matrix builders' cells (request-submitter.ts). */
  matrices?: MatrixCells;
}

type CheckState = 'idle' | 'checking' | 'again' | 'stopped';

class DependentScheduler {
  private state: CheckState = 'idle';
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: DependentSchedulerConfig,
    private readonly deps: DependentDeps,
    private readonly followers: ReadonlyMap<string, string[]>,
  ) {}

  /** Settles the completed waits; asked while a check runs, checks once more after it. */
  check(): void {
    switch (this.state) {
      case 'idle':
        this.state = 'checking';
        this.running = this.loop();
        return;
      case 'checking':
        this.state = 'again';
        return;
      case 'again':
      case 'stopped':
        return;
      default: {
        const never: never = this.state;
        throw new Error(`unknown state ${String(never)}`);
      }
    }
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    await this.running;
  }

  private async loop(): Promise<void> {
    for (;;) {
      try {
        await this.settleCompleted();
      } catch (e) {
        // The database away: the next event or poll tries again; nothing was half done (one transaction each).
        this.deps.log.warn('dependent scheduler could not check its upstream', { scheduler: this.config.name, error: String(e) });
      }
      if (this.state === 'again') this.state = 'checking';
      else {
        if (this.state === 'checking') this.state = 'idle';
        return;
      }
    }
  }

  private async settleCompleted(): Promise<void> {
    const { repos, bus, log, now } = this.deps;
    for (const wait of await repos.buildsets.completedWaits(this.config.name)) {
      if (this.state === 'stopped') return;
      const succeeded = wait.results === Results.SUCCESS || wait.results === Results.WARNINGS;
      const next = succeeded && this.config.builderNames.length > 0 ? await this.downstreamOf(wait) : null;
      const submitted = await repos.buildsets.endWait(this.config.name, wait.buildsetid, next, now());
      if (submitted === null || submitted === 'ended') continue;
      announce(bus, submitted.requests);
      log.info('dependent scheduler requested builds', {
        scheduler: this.config.name,
        upstream: this.config.upstream,
        upstreamBuildset: wait.buildsetid,
        buildset: submitted.buildsetid,
      });
    }
  }

  /** The downstream buildset: the upstream's source, changes and their properties, with our properties. */
  private async downstreamOf(wait: CompletedWait): Promise<NewBuildset> {
    const s = this.config;
    const first = wait.requests[0];
    const upstream = first ? parsePropertyValues(first.properties, `build request ${first.id}'s properties`) : {};
    const changes = first ? (await this.deps.repos.changes.ofBuildRequest(first.id)).rows : [];
    const changeProperties: Record<string, PropertyValue> = {};
    // Oldest first: the newest change's properties win, as its source does.
    for (const c of changes) Object.assign(changeProperties, parsePropertyValues(c.properties, `change ${c.id}'s properties`));
    const source = Object.fromEntries(SOURCE_PROPERTIES.filter((name) => name in upstream).map((name) => [name, upstream[name]]));
    return buildsetToStore(
      {
        scheduler: s.name,
        builderNames: s.builderNames,
        reason:
          s.reason ??
          `The Dependent scheduler '${s.name}' triggered this build (buildset ${wait.buildsetid} of '${s.upstream}' ended ${resultName(wait.results)})`,
        properties: { ...s.properties, ...changeProperties, ...source },
        changeids: changes.map((c) => c.id),
      },
      this.deps.builderIds,
      this.followers,
      this.deps.priorities,
      this.deps.matrices,
    );
  }
}

export interface DependentSchedulers {
  stop(): Promise<void>;
}

export function startDependentSchedulers(deps: DependentDeps): DependentSchedulers {
  const followers = followersOf(deps.schedulers);
  const active = deps.schedulers
    .filter((s): s is DependentSchedulerConfig => s.type === 'dependent')
    .map((s) => new DependentScheduler(s, deps, followers));
  if (active.length === 0) return { stop: async () => {} };
  const checkAll = () => active.forEach((s) => s.check());
  const off = deps.bus.subscribe('buildrequest.complete', checkAll);
  const poll = setInterval(checkAll, deps.pollMs ?? 5000);
  poll.unref();
  checkAll(); // what completed while no master of ours was running
  return {
    stop: async () => {
      off();
      clearInterval(poll);
      await Promise.all(active.map((s) => s.stop()));
    },
  };
}
