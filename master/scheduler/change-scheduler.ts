/**
 * singleBranch / anyBranch schedulers: a stored change that passes a scheduler's filter becomes a
 * build request for each of its builders, with properties `branch`, `revision`, `repository` and
 * `project` from the change (the Git step checks that revision out).
 *
 * With `treeStableTimer` > 0, matching changes on a branch wait until none has come for that long;
 * then one request builds the newest of them and is linked to all of them. Pending changes are
 * submitted at once when the master stops, so none is forgotten.
 */
import type { ChangeSchedulerConfig, SchedulerConfig } from '../config/schedulers.ts';
import type { ChangeRow } from '../db/entities.ts';
import type { Logger } from '../logger.ts';

export type SubmitChanges = (
  builderName: string,
  reason: string,
  properties: Record<string, unknown>,
  changeids: number[],
) => Promise<number>;

const KIND: Record<ChangeSchedulerConfig['type'], string> = { singleBranch: 'SingleBranchScheduler', anyBranch: 'AnyBranchScheduler' };

export function matches(s: ChangeSchedulerConfig, change: ChangeRow): boolean {
  if (s.repository !== undefined && change.repository !== s.repository) return false;
  if (s.project !== undefined && change.project !== s.project) return false;
  if (s.type === 'singleBranch') return change.branch === s.branch;
  if (s.branchRegex === undefined) return true;
  return change.branch !== null && new RegExp(`^(?:${s.branchRegex})$`).test(change.branch);
}

class ChangeScheduler {
  private readonly pending = new Map<string, { changes: ChangeRow[]; timer: NodeJS.Timeout }>();
  /** Set by flush() at the master's stop: a change stored after it is requested at once. */
  private flushed = false;

  constructor(
    private readonly config: ChangeSchedulerConfig,
    private readonly submit: SubmitChanges,
    private readonly log: Logger,
  ) {}

  onChange(change: ChangeRow): void {
    if (!matches(this.config, change)) return;
    const delay = this.flushed ? 0 : (this.config.treeStableTimer ?? 0) * 1000;
    if (delay === 0) return void this.request([change]);
    const key = `${change.repository}\u0000${change.branch ?? ''}`;
    const waiting = this.pending.get(key);
    if (waiting) clearTimeout(waiting.timer);
    const changes = [...(waiting?.changes ?? []), change];
    this.pending.set(key, { changes, timer: setTimeout(() => this.fire(key), delay) });
  }

  async flush(): Promise<void> {
    this.flushed = true;
    const keys = [...this.pending.keys()];
    await Promise.all(keys.map((k) => this.fire(k)));
  }

  private fire(key: string): Promise<void> {
    const waiting = this.pending.get(key);
    if (!waiting) return Promise.resolve();
    clearTimeout(waiting.timer);
    this.pending.delete(key);
    return this.request(waiting.changes);
  }

  private async request(changes: ChangeRow[]): Promise<void> {
    const newest = changes[changes.length - 1] as ChangeRow;
    const s = this.config;
    const properties = {
      ...s.properties,
      branch: newest.branch,
      revision: newest.revision,
      repository: newest.repository,
      project: newest.project,
    };
    const reason = s.reason ?? `The ${KIND[s.type]} '${s.name}' triggered this build`;
    const ids = changes.map((c) => c.id);
    await Promise.all(
      s.builderNames.map((builder) =>
        this.submit(builder, reason, properties, ids).catch((e: unknown) =>
          this.log.error('change scheduler could not request a build', { scheduler: s.name, builder, changes: ids, error: String(e) }),
        ),
      ),
    );
  }
}

export interface ChangeSchedulers {
  onChange(change: ChangeRow): void;
  /** Submits what is waiting for its tree-stable timer. */
  stop(): Promise<void>;
}

export function startChangeSchedulers(schedulers: SchedulerConfig[], submit: SubmitChanges, log: Logger): ChangeSchedulers {
  const active = schedulers
    .filter((s): s is ChangeSchedulerConfig => s.type === 'singleBranch' || s.type === 'anyBranch')
    .map((s) => new ChangeScheduler(s, submit, log));
  return {
    onChange: (change) => active.forEach((s) => s.onChange(change)),
    stop: async () => {
      await Promise.all(active.map((s) => s.flush()));
    },
  };
}
