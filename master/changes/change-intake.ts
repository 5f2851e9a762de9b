/**
 * Where changes enter a master: posted to the API (or GitHub's hook) or found by its git pollers.
 * Each change is stored with this master's id, announced on the bus and offered to the change
 * schedulers. Those a scheduler holds for its tree-stable timer are marked waiting in the database
 * until every holder has requested its builds, so a master killed meanwhile offers them again (to its
 * timed schedulers only) when it starts.
 */
import type { CompiledConfig } from '../config/compile.ts';
import type { Repositories } from '../db/repositories.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../../core/logger.ts';
import { startChangeSchedulers, type ChangeSchedulers, type SubmitChanges } from '../scheduler/change-scheduler.ts';
import type { ChangeInput } from './change.ts';
import { parsePropertyValues } from '../../steps/properties/properties.ts';
import { GitPoller } from './git-poller.ts';

export interface ChangeIntakeDeps {
  config: Pick<CompiledConfig, 'schedulers' | 'changeSources'>;
  repos: Repositories;
  bus: EventBus;
  log: Logger;
  masterid: number;
  /** The config file's folder: a poller's default clone and relative repourl are taken from it. */
  basedir: string;
  submit: SubmitChanges;
  now: () => number;
}

export class ChangeIntake {
  private schedulers: ChangeSchedulers;
  private readonly pollers: GitPoller[];

  constructor(private readonly deps: ChangeIntakeDeps) {
    this.schedulers = this.startSchedulers();
    this.pollers = deps.config.changeSources.map((source) => new GitPoller(source, deps.basedir, (c) => this.add([c]), deps.log));
  }

  private startSchedulers(): ChangeSchedulers {
    const { repos, log } = this.deps;
    return startChangeSchedulers(this.deps.config.schedulers, this.deps.submit, log, (ids) => {
      repos.changes
        .setWaiting(ids, false)
        .catch((e: unknown) => log.warn('could not record changes as requested', { changes: ids, error: String(e) }));
    });
  }

  /**
   * A reconfig changed the change schedulers (`config.schedulers` holds the new ones): new changes go
   * to the new schedulers; the old ones request the builds of the changes they were holding now.
   */
  async restartSchedulers(): Promise<void> {
    const old = this.schedulers;
    this.schedulers = this.startSchedulers();
    await old.stop();
  }

  /** Stores the changes (all or none) and offers them to the change schedulers; returns their ids. */
  async add(changes: ChangeInput[]): Promise<number[]> {
    const { repos, bus } = this.deps;
    const rows = await repos.changes.createMany(changes, this.deps.now(), this.deps.masterid);
    const held: number[] = [];
    for (const [i, row] of rows.entries()) {
      bus.publish('change.new', { changeid: row.id });
      if (this.schedulers.onChange({ ...row, properties: changes[i]?.properties ?? {} })) held.push(row.id);
    }
    await repos.changes.setWaiting(held, true);
    return rows.map((r) => r.id);
  }

  /** Offers again what this master held when it was killed, then starts polling. */
  async start(): Promise<void> {
    const { repos, log, masterid } = this.deps;
    const left = await repos.changes.waitingOf(masterid);
    for (const row of left) {
      const properties = parsePropertyValues(row.properties, `change ${row.id}'s properties`);
      if (!this.schedulers.onChange({ ...row, properties }, true)) await repos.changes.setWaiting([row.id], false);
    }
    if (left.length > 0) log.info('changes held before a stop offered to the schedulers again', { changes: left.map((c) => c.id) });
    for (const p of this.pollers) p.start();
  }

  /** Stops polling; changes waiting for a tree-stable timer become requests now (the next start builds them). */
  async stop(): Promise<void> {
    await Promise.all(this.pollers.map((p) => p.stop()));
    await this.schedulers.stop();
  }
}
