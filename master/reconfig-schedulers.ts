/**
 * The schedulers that run on their own (periodic, cron, nightly triggerable, dependent, and the change
 * schedulers of the change intake), started with the master and restarted by a reconfig.
 *
 * A reconfig stops the timer of a periodic or cron scheduler it removed or changed and starts the
 * added and changed ones; an unchanged one keeps its timer (a periodic scheduler's count does not
 * start over). Nightly triggerable and dependent schedulers keep their state in the database, so
 * they are restarted as a group whenever the schedulers change. The change schedulers restart only
 * when one of them changed: the changes an old one was holding for its `treeStableTimer` are
 * requested at once. Force and triggerable schedulers have no timer: they are read at each use.
 *
 * States: idle -> running (start) -> stopped (stop); update() only while running.
 */
import type { Logger } from '../core/logger.ts';
import type { SchedulerConfig } from './config/schedulers.ts';
import type { NamedChanges } from './events/event-bus.ts';
import { startPeriodicSchedulers } from './scheduler/periodic.ts';
import { startCronSchedulers } from './scheduler/cron.ts';
import { startNightlyTriggerableSchedulers } from './scheduler/nightly-triggerable.ts';
import { startDependentSchedulers, type DependentDeps, type DependentSchedulers } from './scheduler/dependent.ts';
import type { SubmitBuildset } from './scheduler/request-submitter.ts';
import { InvalidStateError } from '../core/errors/index.ts';

export interface SchedulerServicesDeps extends DependentDeps {
  /** The schedulers in force: an array a reconfig refills (reconfig-live.ts). */
  schedulers: readonly SchedulerConfig[];
  submit: SubmitBuildset;
  log: Logger;
  changes: { restartSchedulers(): Promise<void> };
}

const TIMED = new Set<SchedulerConfig['type']>(['periodic', 'cron']);
const CHANGE = new Set<SchedulerConfig['type']>(['singleBranch', 'anyBranch']);

export class SchedulerServices {
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  /** Periodic and cron schedulers, by name: how to stop each one's timer. */
  private readonly timers = new Map<string, () => void>();
  private stopNightly: () => void = () => {};
  private dependents: DependentSchedulers | null = null;

  constructor(private readonly deps: SchedulerServicesDeps) {}

  start(): void {
    this.enter('idle', 'running');
    for (const s of this.deps.schedulers) this.startTimer(s);
    this.startGroups();
  }

  /** After a reconfig refilled `deps.schedulers`; `before` are the schedulers it replaced. */
  async update(changes: NamedChanges, before: readonly SchedulerConfig[]): Promise<void> {
    if (this.state !== 'running') return; // stopping: nothing to restart
    const touched = new Set([...changes.added, ...changes.removed, ...changes.changed]);
    if (touched.size === 0) return;
    for (const name of [...changes.removed, ...changes.changed]) {
      this.timers.get(name)?.();
      this.timers.delete(name);
    }
    for (const s of this.deps.schedulers) if (changes.added.includes(s.name) || changes.changed.includes(s.name)) this.startTimer(s);
    await this.stopGroups();
    this.startGroups();
    const isChange = (s: SchedulerConfig) => touched.has(s.name) && CHANGE.has(s.type);
    if (before.some(isChange) || this.deps.schedulers.some(isChange)) await this.deps.changes.restartSchedulers();
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const stop of this.timers.values()) stop();
    this.timers.clear();
    await this.stopGroups();
  }

  private startTimer(s: SchedulerConfig): void {
    if (!TIMED.has(s.type)) return;
    const { submit, log } = this.deps;
    this.timers.set(s.name, s.type === 'periodic' ? startPeriodicSchedulers([s], submit, log) : startCronSchedulers([s], submit, log));
  }

  private startGroups(): void {
    this.stopNightly = startNightlyTriggerableSchedulers(this.deps);
    this.dependents = startDependentSchedulers(this.deps);
  }

  private async stopGroups(): Promise<void> {
    this.stopNightly();
    this.stopNightly = () => {};
    await this.dependents?.stop();
    this.dependents = null;
  }

  private enter(from: typeof this.state, to: typeof this.state): void {
    if (this.state !== from) throw new InvalidStateError('SchedulerServices', this.state, `become ${to}`);
    this.state = to;
  }
}
