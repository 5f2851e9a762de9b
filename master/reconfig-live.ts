/**
 * The parts of the config a reconfig replaces (builders, agents' properties, schedulers) and what is
 * derived from them, held in maps and arrays that the master's parts keep a reference to and read
 * at each use. `replace()` refills them in place, synchronously: a part never sees half of a swap.
 *
 * A running build keeps the compiled builder (and its steps) it was started with; only new builds
 * see a new config.
 */
import type { CompiledBuilder, CompiledConfig } from './config/compile.ts';
import type { MatrixCell } from './config/matrix.ts';
import type { PropertyValue } from '../steps/properties/properties.ts';
import { queuePriorities, type QueuePriorities } from './scheduler/request-priority.ts';
import { matrixCellsOf } from './scheduler/request-submitter.ts';

export interface ConfiguredBuilder {
  id: number;
  config: CompiledBuilder;
}

export class LiveConfig {
  /** The builders in force with their database ids, in the config's order (the API lists these). */
  readonly builders: ConfiguredBuilder[] = [];
  /** The builders in force, by database id: the request claimer and collapser serve these only. */
  readonly buildersById = new Map<number, CompiledBuilder>();
  /** Database id of each builder in force, by name: requests can be submitted for these only. */
  readonly builderIds = new Map<string, number>();
  /**
   * Every builder configured since the master started, by id: a removed builder's running builds
   * still finish, are measured and reported under its name.
   */
  readonly knownBuilders = new Map<number, CompiledBuilder>();
  /** Names of knownBuilders, by id. */
  readonly builderNames = new Map<number, string>();
  readonly schedulers: CompiledConfig['schedulers'] = [];
  /** The schedulers' and builders' `priority`: its maps are replaced, the object stays. */
  readonly priorities: QueuePriorities = { schedulers: new Map(), builders: new Map() };
  readonly matrices = new Map<string, readonly MatrixCell[]>();
  /** Each agent's `properties`, set on the builds it runs. */
  readonly agentProperties = new Map<string, Record<string, PropertyValue>>();

  /** `rows`: the builders' database rows by name (BuildersRepo.sync). */
  constructor(config: CompiledConfig, rows: ReadonlyMap<string, { id: number }>) {
    this.replace(config, rows);
  }

  replace(config: CompiledConfig, rows: ReadonlyMap<string, { id: number }>): void {
    const builders = config.builders.map((b) => {
      const row = rows.get(b.name);
      if (!row) throw new Error(`builder "${b.name}" was not stored`);
      return { id: row.id, config: b };
    });
    this.builders.splice(0, this.builders.length, ...builders);
    this.buildersById.clear();
    this.builderIds.clear();
    for (const b of builders) {
      this.buildersById.set(b.id, b.config);
      this.builderIds.set(b.config.name, b.id);
      this.knownBuilders.set(b.id, b.config);
      this.builderNames.set(b.id, b.config.name);
    }
    this.schedulers.splice(0, this.schedulers.length, ...config.schedulers);
    Object.assign(this.priorities, queuePriorities(config));
    refill(this.matrices, matrixCellsOf(config.builders));
    refill(this.agentProperties, new Map(config.agents.map((a) => [a.name, a.properties ?? {}])));
  }
}

function refill<K, V>(target: Map<K, V>, source: ReadonlyMap<K, V>): void {
  target.clear();
  for (const [k, v] of source) target.set(k, v);
}
