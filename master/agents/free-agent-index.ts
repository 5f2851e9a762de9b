/**
 * Which connected agents can take a build of each builder now, kept up to date as agents connect,
 * disconnect, start and end builds, so that the request claimer finds a free agent for a request
 * without looking at every agent: a claim pass costs O(requests + builders), not O(requests × agents).
 *
 * Per builder (a pool, made the first time the builder is asked about): the connected agents that
 * fit it (names, labels), and of those the ones that can take one of its builds now (a free slot
 * and no build of this builder running: one build per builder per agent), in buckets by how many
 * builds they run, so the least busy comes first.
 *
 * Invariant: an agent is in bucket n of a pool exactly when, at its last update, it was connected,
 * fitted the builder, ran n builds with a slot left, and none of this builder. Every change to an
 * agent's connection or build counts is followed by connect(), disconnect() or update(). A session
 * that is closing is not connected any more before its disconnect() comes: lookups check
 * `handle.connected` rather than trust the buckets for it.
 */
import { agentFits } from '../config/compile.ts';

/** What the index reads of an agent (the registry's AgentEntry has it). */
export interface IndexedAgent {
  readonly config: { readonly name: string; readonly labels: readonly string[]; readonly maxBuilds: number };
  readonly info: { readonly labels: readonly string[]; readonly capacity: number };
  readonly running: number;
  readonly builders: ReadonlySet<string>;
  readonly handle: { readonly connected: boolean };
}

/** Who may run a builder: its name (the pool's key), and the `agents` and `labels` it asks for. */
export interface BuilderFit {
  name: string;
  agents?: string[] | undefined;
  labels?: string[] | undefined;
}

interface Pool<A> {
  readonly name: string;
  readonly fit: BuilderFit;
  /** Connected agents that fit the builder, busy or not. */
  readonly fitting: Set<A>;
  /** By load: free[n] holds the agents running n builds that can take one of this builder now. */
  readonly free: Set<A>[];
}

/** Where an agent sits: the pools it fits, and the load and free slots it was placed with. */
interface Placement<A> {
  pools: Pool<A>[];
  load: number;
  slots: number;
}

export function freeSlotsOf(agent: IndexedAgent): number {
  return Math.max(0, Math.min(agent.config.maxBuilds, agent.info.capacity) - agent.running);
}

function fits(builder: BuilderFit, agent: IndexedAgent): boolean {
  return agentFits(builder, { name: agent.config.name, labels: [...agent.config.labels, ...agent.info.labels] });
}

export class FreeAgentIndex<A extends IndexedAgent> {
  private readonly pools = new Map<string, Pool<A>>();
  /** Connected agents only. */
  private readonly placed = new Map<A, Placement<A>>();
  private slots = 0;

  /** Free build slots over all connected agents (whichever builders they fit). */
  get freeSlots(): number {
    return this.slots;
  }

  /** The agent is connected now (a first connection, or a new one whose hello may say other labels or capacity). */
  connect(agent: A): void {
    this.disconnect(agent);
    const pools = [...this.pools.values()].filter((p) => fits(p.fit, agent));
    for (const p of pools) p.fitting.add(agent);
    const placement = { pools, load: agent.running, slots: freeSlotsOf(agent) };
    this.placed.set(agent, placement);
    this.slots += placement.slots;
    this.place(agent, placement);
  }

  /** The agent's connection closed: it takes nothing until it connects again. */
  disconnect(agent: A): void {
    const placement = this.placed.get(agent);
    if (!placement) return;
    this.unplace(agent, placement);
    for (const p of placement.pools) p.fitting.delete(agent);
    this.slots -= placement.slots;
    this.placed.delete(agent);
  }

  /** The agent's build counts changed (a build started or ended on it): call after the change. */
  update(agent: A): void {
    const placement = this.placed.get(agent);
    if (!placement) return; // not connected: connect() places it with its counts then
    this.unplace(agent, placement);
    const slots = freeSlotsOf(agent);
    this.slots += slots - placement.slots;
    placement.load = agent.running;
    placement.slots = slots;
    this.place(agent, placement);
  }

  /**
   * Drops every builder's pool (a reconfig: a builder's `agents` or `labels`, or an agent's labels or
   * maxBuilds, may have changed); each is made again from the connected agents when next asked for.
   */
  forgetBuilders(): void {
    this.pools.clear();
    for (const placement of this.placed.values()) placement.pools = [];
  }

  /** The agents that can take a build of `builder` now, least busy first (connected ones only). */
  *free(builder: BuilderFit): Generator<A, void, undefined> {
    for (const bucket of this.pool(builder).free) {
      if (!bucket) continue;
      for (const agent of bucket) if (agent.handle.connected) yield agent;
    }
  }

  /** The least busy agent that can take a build of `builder` now and that `accept`s, or null. */
  first(builder: BuilderFit, accept: (agent: A) => boolean = () => true): A | null {
    for (const agent of this.free(builder)) if (accept(agent)) return agent;
    return null;
  }

  /** Whether a connected agent fits `builder`, busy or not. */
  hasFitting(builder: BuilderFit): boolean {
    for (const agent of this.pool(builder).fitting) if (agent.handle.connected) return true;
    return false;
  }

  /** The builder's pool, made from the connected agents the first time it is asked for. */
  private pool(builder: BuilderFit): Pool<A> {
    let pool = this.pools.get(builder.name);
    if (pool) return pool;
    pool = {
      name: builder.name,
      fit: { name: builder.name, agents: builder.agents, labels: builder.labels },
      fitting: new Set(),
      free: [],
    };
    this.pools.set(builder.name, pool);
    for (const [agent, placement] of this.placed) {
      if (!fits(builder, agent)) continue;
      pool.fitting.add(agent);
      placement.pools.push(pool);
      if (placement.slots > 0 && !agent.builders.has(pool.name)) this.bucket(pool, placement.load).add(agent);
    }
    return pool;
  }

  private bucket(pool: Pool<A>, load: number): Set<A> {
    let bucket = pool.free[load];
    if (!bucket) {
      bucket = new Set();
      pool.free[load] = bucket;
    }
    return bucket;
  }

  private place(agent: A, placement: Placement<A>): void {
    if (placement.slots <= 0) return;
    for (const p of placement.pools) if (!agent.builders.has(p.name)) this.bucket(p, placement.load).add(agent);
  }

  private unplace(agent: A, placement: Placement<A>): void {
    for (const p of placement.pools) p.free[placement.load]?.delete(agent);
  }
}
