/**
 * Reconfig without downtime (Buildbot's reconfig, dsari's HUP reload): the config file is loaded
 * again and, if it is valid and changes only what can change under a running master, the builders,
 * agents and schedulers of the new config take over for new builds. Builds already running finish
 * under the config they started with (they hold their compiled builder and steps).
 *
 * What changes, in order: builder rows are created in the database for new builders; then, between
 * two passes of the request claimer (it is held), the builders, schedulers and agents in force are
 * swapped in one synchronous step (reconfig-live.ts, AgentRegistry.updateConfig); then the
 * schedulers' timers follow (reconfig-schedulers.ts); then `master.reconfigured` is published (the
 * web UI refetches) and what changed is logged.
 *
 * A removed builder's queued requests stay in the database, unclaimed, as in Buildbot: a master
 * whose config has the builder (this one after another reconfig, or another master sharing the
 * database) builds them. A removed agent's token is refused from now on; it is disconnected once its
 * builds end (at once when idle).
 *
 * Refused, leaving the old config in force: an invalid config (every error with its path), and a
 * change to a key in RESTART_KEYS. Reconfigs run one at a time, in the order asked.
 */
import { isDeepStrictEqual } from 'node:util';
import type { CompiledConfig } from './config/compile.ts';
import type { Repositories } from './db/repositories.ts';
import type { EventBus, NamedChanges, ReconfiguredEvent } from './events/event-bus.ts';
import type { AgentRegistry } from './agents/agent-registry.ts';
import type { RequestClaimer } from './scheduler/request-claimer.ts';
import type { Logger } from '../core/logger.ts';
import { ConfigError, ConflictError, ShuttingDownError, UnprocessableError, type ConfigIssue } from '../core/errors/index.ts';
import type { LiveConfig } from './reconfig-live.ts';
import type { SchedulerServices } from './reconfig-schedulers.ts';

/** What a reconfig applies to a running master. */
export const RELOADED_KEYS = ['builders', 'agents', 'schedulers'] as const;

/**
 * What only a restart changes: the parts made from them at start (the HTTP server and its auth, the
 * database, the agents' protocol timings, the metrics stores, reporters, locks, the queue functions,
 * pollers, the janitor) hold them for the master's life.
 */
export const RESTART_KEYS = [
  'title',
  'web',
  'db',
  'protocol',
  'shutdownTimeoutMs',
  'logs',
  'retention',
  'secrets',
  'locks',
  'prioritizeBuilders',
  'collapseRequests',
  'changeSources',
  'services',
  'metrics',
  'retention',
] as const;

// Every key of the config is one or the other: a new key fails to compile here until it is placed.
type Unplaced = Exclude<keyof CompiledConfig, (typeof RELOADED_KEYS)[number] | (typeof RESTART_KEYS)[number] | 'warnings'>;
const everyKeyPlaced: [Unplaced] extends [never] ? true : Unplaced = true;
void everyKeyPlaced;

export interface ConfigChanges extends ReconfiguredEvent {
  /** Keys of RESTART_KEYS whose value differs. */
  needsRestart: string[];
}

export interface ReconfigResult {
  changes: ReconfiguredEvent;
  /** The new config's warnings (compile's), for the user to read. */
  warnings: ConfigIssue[];
}

/** What differs between the config in force and a new one. */
export function configChanges(old: CompiledConfig, next: CompiledConfig): ConfigChanges {
  return {
    builders: namedChanges(old.builders, next.builders),
    agents: namedChanges(old.agents, next.agents),
    schedulers: namedChanges(old.schedulers, next.schedulers),
    needsRestart: RESTART_KEYS.filter((key) => !sameValue(old[key], next[key])),
  };
}

export function hasChanges(c: ReconfiguredEvent): boolean {
  return [c.builders, c.agents, c.schedulers].some((n) => n.added.length + n.removed.length + n.changed.length > 0);
}

function namedChanges<T extends { name: string }>(old: readonly T[], next: readonly T[]): NamedChanges {
  const before = new Map(old.map((x) => [x.name, x]));
  const after = new Set(next.map((x) => x.name));
  return {
    added: next.filter((x) => !before.has(x.name)).map((x) => x.name),
    removed: old.filter((x) => !after.has(x.name)).map((x) => x.name),
    changed: next.filter((x) => before.has(x.name) && !sameValue(before.get(x.name), x)).map((x) => x.name),
  };
}

/**
 * Whether two config values are alike. The new config is a fresh import, so its functions and step
 * objects are new ones: functions are compared by their source, objects by class and own fields.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(canonical(a, new Set()), canonical(b, new Set()));
}

function canonical(value: unknown, ancestors: Set<object>): unknown {
  if (typeof value === 'function') return `function ${value.toString()}`;
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) return '[cycle]';
  if (value instanceof RegExp || value instanceof Date || value instanceof URL) return `${value.constructor.name} ${String(value)}`;
  ancestors.add(value);
  let out: unknown;
  if (Array.isArray(value)) out = value.map((v: unknown) => canonical(v, ancestors));
  else if (value instanceof Map) out = ['Map', [...value].map(([k, v]) => [canonical(k, ancestors), canonical(v, ancestors)])];
  else if (value instanceof Set) out = ['Set', [...value].map((v) => canonical(v, ancestors))];
  else {
    const fields: Record<string, unknown> = { '(class)': (value as { constructor?: { name?: unknown } }).constructor?.name };
    for (const key of Object.keys(value).sort()) fields[key] = canonical((value as Record<string, unknown>)[key], ancestors);
    out = fields;
  }
  ancestors.delete(value);
  return out;
}

export interface ReconfigDeps {
  /** The config in force when the master started. */
  config: CompiledConfig;
  live: LiveConfig;
  repos: Pick<Repositories, 'builders'>;
  registry: Pick<AgentRegistry, 'updateConfig'>;
  claimer: Pick<RequestClaimer, 'hold'>;
  schedulers: Pick<SchedulerServices, 'update'>;
  bus: Pick<EventBus, 'publish'>;
  log: Logger;
  isStopping(): boolean;
}

export class Reconfigurer {
  private current: CompiledConfig;
  /** The reconfig under way (or the last one): the next waits for it. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ReconfigDeps) {
    this.current = deps.config;
  }

  /**
   * Loads the new config with `load` and applies it. Throws, with the old config still in force:
   * UnprocessableError (details.issues: every error with its path) for an invalid config,
   * ConflictError (details.needsRestart: the keys) for a change only a restart makes.
   */
  reconfig(load: () => Promise<CompiledConfig>): Promise<ReconfigResult> {
    const run = this.queue.then(
      () => this.apply(load),
      () => this.apply(load),
    );
    this.queue = run.catch(() => {});
    return run;
  }

  private async apply(load: () => Promise<CompiledConfig>): Promise<ReconfigResult> {
    const { live, log } = this.deps;
    if (this.deps.isStopping()) throw new ShuttingDownError('the master is shutting down: no reconfig');
    let next: CompiledConfig;
    try {
      next = await load();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      log.error('reconfig refused: the new config is invalid; the old one stays in force', { errors: e.issues.length });
      throw new UnprocessableError(`reconfig refused, the old config stays in force: ${e.message}`, { issues: e.issues });
    }
    const { needsRestart, ...changes } = configChanges(this.current, next);
    if (needsRestart.length > 0) {
      log.error('reconfig refused: these keys need a restart', { keys: needsRestart });
      throw new ConflictError(
        `reconfig refused, the old config stays in force: ${needsRestart.join(', ')} changed, which needs a restart`,
        {
          needsRestart,
        },
      );
    }
    if (this.deps.isStopping()) throw new ShuttingDownError('the master is shutting down: no reconfig');
    // Rows first (new builders get their ids); what claims and submits sees none of it yet.
    const rows = await this.deps.repos.builders.sync(next.builders);
    const before = [...live.schedulers];
    const release = await this.deps.claimer.hold();
    try {
      live.replace(next, rows);
      this.deps.registry.updateConfig(next.agents);
    } finally {
      release();
    }
    this.current = next;
    await this.deps.schedulers.update(changes.schedulers, before);
    log.info(hasChanges(changes) ? 'reconfig applied' : 'reconfig applied: nothing changed', describe(changes));
    this.deps.bus.publish('master.reconfigured', changes);
    return { changes, warnings: next.warnings };
  }
}

/** For the log: `{ builders: "added a; removed b", ... }`, only what changed. */
function describe(changes: ReconfiguredEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of ['builders', 'agents', 'schedulers'] as const) {
    const c = changes[part];
    const said = (['added', 'removed', 'changed'] as const).filter((k) => c[k].length > 0).map((k) => `${k} ${c[k].join(', ')}`);
    if (said.length > 0) out[part] = said.join('; ');
  }
  return out;
}
