/**
 * singleBranch / anyBranch schedulers: a stored change that passes a scheduler's filter becomes a
 * build request for each of its builders, with properties `branch`, `revision`, `repository` and
 * `project` from the change (the Git step checks that revision out), and the change's own properties
 * (a pull request's `pr_number`, `base_branch`, …).
 *
 * With `treeStableTimer` > 0, matching changes on a branch wait until none has come for that long;
 * then one request builds the newest of them and is linked to all of them. Pending changes are
 * submitted at once when the master stops, so none is forgotten; `onWaiting` is told which changes
 * are held and released, so that a master killed meanwhile can offer them again when it starts.
 *
 * `fileIsImportant` (Buildbot's) classifies each matching change: an unimportant one requests no
 * build by itself; it waits with the branch's others (without a timer of its own) and is built with
 * the next important change, or dropped at once with `onlyImportant` or without a tree-stable timer.
 */
import type { ChangeSchedulerConfig, SchedulerConfig } from '../config/schedulers.ts';
import type { OfferedChange } from '../changes/change.ts';
import type { Logger } from '../../core/logger.ts';
import type { SubmitBuildset } from './request-submitter.ts';

/** A change scheduler's builders for some changes: one buildset (master/scheduler/request-submitter.ts). */
export type SubmitChanges = SubmitBuildset;

const KIND: Record<ChangeSchedulerConfig['type'], string> = { singleBranch: 'SingleBranchScheduler', anyBranch: 'AnyBranchScheduler' };

const oneOf = (wanted: string | string[], value: unknown) => typeof value === 'string' && [wanted].flat().includes(value);
/**
 * Buildbot's `branch_re` semantics (Python's `re.match`): the expression must match at the start of
 * the value, not necessarily all of it ('release' matches 'release-1.0'; 'release$' does not).
 */
const matchesAtStart = (regex: string, value: unknown) => typeof value === 'string' && new RegExp(`^(?:${regex})`).test(value);

export function matches(s: ChangeSchedulerConfig, change: OfferedChange): boolean {
  if (s.repository !== undefined && change.repository !== s.repository) return false;
  if (s.project !== undefined && change.project !== s.project) return false;
  if (s.category !== undefined && !oneOf(s.category, change.category)) return false;
  // Only a pull request has a base branch: a filter on it rejects every other change.
  if (s.baseBranch !== undefined && !oneOf(s.baseBranch, change.properties.base_branch)) return false;
  if (s.baseBranchRegex !== undefined && !matchesAtStart(s.baseBranchRegex, change.properties.base_branch)) return false;
  if (s.type === 'singleBranch') return change.branch === s.branch;
  if (s.branchRegex === undefined) return true;
  return matchesAtStart(s.branchRegex, change.branch);
}

/** Changes on one branch waiting for the tree-stable timer; no timer while all of them are unimportant. */
interface Waiting {
  changes: OfferedChange[];
  newest: OfferedChange;
  timer: NodeJS.Timeout | null;
  important: boolean;
}

/** The paths of a change's row (stored as a JSON array). */
function changedFiles(change: OfferedChange): string[] {
  try {
    const files: unknown = JSON.parse(change.files);
    return Array.isArray(files) ? files.filter((f): f is string => typeof f === 'string') : [];
  } catch {
    return [];
  }
}

class ChangeScheduler {
  private readonly pending = new Map<string, Waiting>();
  /** Set by flush() at the master's stop: a change stored after it is requested at once. */
  private flushed = false;

  constructor(
    private readonly config: ChangeSchedulerConfig,
    private readonly submit: SubmitChanges,
    private readonly log: Logger,
  ) {}

  /** True when the change now waits for this scheduler's tree-stable timer. */
  onChange(change: OfferedChange, released: (changes: OfferedChange[]) => void, onlyTimed = false): boolean {
    if (!matches(this.config, change)) return false;
    const important = this.isImportant(change);
    if (!important && this.config.onlyImportant) return false;
    if (onlyTimed && !(this.config.treeStableTimer ?? 0)) return false; // it requested its builds already
    const delay = this.flushed ? 0 : (this.config.treeStableTimer ?? 0) * 1000;
    if (delay === 0) {
      if (important) void this.request([change], change);
      return false;
    }
    this.released = released;
    const key = `${change.repository}\u0000${change.branch ?? ''}`;
    const waiting = this.pending.get(key);
    // As Buildbot: an important change starts (or restarts) the timer, an unimportant one only restarts a running one.
    const timed = important || (waiting?.timer ?? null) !== null;
    if (waiting?.timer) clearTimeout(waiting.timer);
    this.pending.set(key, {
      changes: [...(waiting?.changes ?? []), change],
      newest: change,
      timer: timed ? setTimeout(() => void this.fire(key), delay) : null,
      important: important || (waiting?.important ?? false),
    });
    return true;
  }

  /** `fileIsImportant`'s answer; a function that throws is logged and the change counts as important. */
  private isImportant(change: OfferedChange): boolean {
    const fileIsImportant = this.config.fileIsImportant;
    if (!fileIsImportant) return true;
    try {
      return fileIsImportant({ ...change, files: changedFiles(change) });
    } catch (e) {
      this.log.error('fileIsImportant threw: the change counts as important', {
        scheduler: this.config.name,
        change: change.id,
        error: String(e),
      });
      return true;
    }
  }

  private released: (changes: OfferedChange[]) => void = () => {};

  async flush(): Promise<void> {
    this.flushed = true;
    const keys = [...this.pending.keys()];
    await Promise.all(keys.map((k) => this.fire(k)));
  }

  private async fire(key: string): Promise<void> {
    const waiting = this.pending.get(key);
    if (!waiting) return;
    if (waiting.timer) clearTimeout(waiting.timer);
    this.pending.delete(key);
    // Unimportant changes alone are worth no build: released (at the master's stop) without one.
    if (waiting.important) await this.request(waiting.changes, waiting.newest);
    this.released(waiting.changes);
  }

  /** One request per builder for `changes` (one buildset), building `newest` (the last of them). */
  private async request(changes: OfferedChange[], newest: OfferedChange): Promise<void> {
    const s = this.config;
    const properties = {
      ...s.properties,
      ...newest.properties,
      branch: newest.branch,
      revision: newest.revision,
      repository: newest.repository,
      project: newest.project,
    };
    const reason = s.reason ?? `The ${KIND[s.type]} '${s.name}' triggered this build`;
    const ids = changes.map((c) => c.id);
    await this.submit({ scheduler: s.name, builderNames: s.builderNames, reason, properties, changeids: ids }).catch((e: unknown) =>
      this.log.error('change scheduler could not request builds', { scheduler: s.name, changes: ids, error: String(e) }),
    );
  }
}

export interface ChangeSchedulers {
  /**
   * Offers a stored change to every change scheduler (`onlyTimed`: only those with a tree-stable
   * timer, for a change offered again after a kill); true when one of them holds it in a timer.
   */
  onChange(change: OfferedChange, onlyTimed?: boolean): boolean;
  /** Submits what is waiting for its tree-stable timer. */
  stop(): Promise<void>;
}

/**
 * `onReleased` gets the changes no scheduler holds any longer (a change two schedulers hold is
 * released when the second one has requested its builds).
 */
export function startChangeSchedulers(
  schedulers: SchedulerConfig[],
  submit: SubmitChanges,
  log: Logger,
  onReleased: (changeids: number[]) => void = () => {},
): ChangeSchedulers {
  const active = schedulers
    .filter((s): s is ChangeSchedulerConfig => s.type === 'singleBranch' || s.type === 'anyBranch')
    .map((s) => new ChangeScheduler(s, submit, log));
  const holders = new Map<number, number>();
  const released = (changes: OfferedChange[]) => {
    const free: number[] = [];
    for (const c of changes) {
      const left = (holders.get(c.id) ?? 1) - 1;
      if (left > 0) holders.set(c.id, left);
      else {
        holders.delete(c.id);
        free.push(c.id);
      }
    }
    if (free.length > 0) onReleased(free);
  };
  return {
    onChange: (change, onlyTimed = false) => {
      const held = active.filter((s) => s.onChange(change, released, onlyTimed)).length;
      if (held > 0) holders.set(change.id, (holders.get(change.id) ?? 0) + held);
      return held > 0;
    },
    stop: async () => {
      await Promise.all(active.map((s) => s.flush()));
    },
  };
}
