/**
 * The configured agents the master has met, connected or not, and how busy they are. An agent is
 * free for a builder when it is connected, fits the builder (names, labels) and runs fewer than
 * `maxBuilds` builds. The registry announces its own changes on the bus: `agent.connected` when a
 * session is attached, `agent.disconnected` when it closes, `agent.available` when a build ends.
 *
 * An agent's entry is made on its first connection and lasts for the master's life: its handle keeps
 * runs through short disconnects, and its build counts stay true across reconnects.
 *
 * Free agents are found by index, not by scan (free-agent-index.ts): every change of an agent's
 * connection or build counts goes through attach(), the close of its session, acquire() or
 * release(), which keep the index true.
 */
import type { EventBus } from '../events/event-bus.ts';
import { AgentHandle } from './agent-handle.ts';
import type { AgentSession } from './agent-session.ts';
import { FreeAgentIndex, type BuilderFit } from './free-agent-index.ts';

export interface AgentConfig {
  name: string;
  token: string;
  labels: string[];
  maxBuilds: number;
}

/** What an agent said of itself in its hello (a type, not an interface: it is stored as a record). */
export type AgentInfo = {
  os: string;
  version: string;
  labels: string[];
  capacity: number;
};

/** An agent the master has met: connected now or not (see `handle.connected`). */
export interface AgentEntry {
  config: AgentConfig;
  /** Routes commands to the agent's current connection; keeps runs through short disconnects. */
  handle: AgentHandle;
  info: AgentInfo;
  connectedAt: number;
  running: number;
  /** Builders with a build on this agent now: one build per builder per agent, as in Buildbot, since builds of a builder share its directory. */
  builders: Set<string>;
}

export class AgentRegistry {
  /** Every agent met since the master started, by name; `handle.connected` says which are connected now. */
  private readonly met = new Map<string, AgentEntry>();
  /** The connected agents with a free slot, per builder. */
  private readonly index = new FreeAgentIndex<AgentEntry>();

  /** Agents a reconfig removed (or whose token it changed) that still run builds: closed once idle. */
  private readonly retiring = new Set<string>();

  constructor(
    /** Replaced by a reconfig (updateConfig). */
    private configured: AgentConfig[],
    private readonly bus: EventBus,
    private readonly graceMs: number,
  ) {
    this.configuredByName = new Map(configured.map((a) => [a.name, a]));
  }

  /** `configured` by name: every hello looks its agent up (a search of 10 000 agents took 0.3 s in all). */
  private configuredByName: Map<string, AgentConfig>;

  config(name: string): AgentConfig | undefined {
    return this.configuredByName.get(name);
  }

  get(name: string): AgentEntry | undefined {
    return this.met.get(name);
  }

  isConnected(name: string): boolean {
    return this.met.get(name)?.handle.connected ?? false;
  }

  /**
   * Hands a new session of a configured agent to its handle (made on the first connection) and
   * announces it; announces the disconnect when the session closes. Returns the runs of
   * `agentRuns` the agent should resume.
   */
  attach(config: AgentConfig, session: AgentSession, info: AgentInfo, agentRuns: string[], connectedAt: number): string[] {
    let entry = this.met.get(config.name);
    // The config it was admitted under: a reconfig may have changed its labels or maxBuilds since.
    if (entry) Object.assign(entry, { config, info, connectedAt });
    else {
      entry = { config, handle: new AgentHandle(config.name, this.graceMs), info, connectedAt, running: 0, builders: new Set() };
      this.met.set(config.name, entry);
    }
    const resume = entry.handle.attach(session, agentRuns);
    const attached = entry;
    this.index.connect(attached);
    session.onClosed(() => {
      // The handle has let this session go (its listener comes first); a newer session is never attached before that.
      if (!attached.handle.connected) this.index.disconnect(attached);
      this.bus.publish('agent.disconnected', { name: config.name });
    });
    this.bus.publish('agent.connected', { name: config.name });
    return resume;
  }

  closeAll(): void {
    for (const a of this.met.values()) a.handle.close();
  }

  /**
   * The least busy connected agent that can take a build of the builder now (it fits, has a free
   * slot and runs no build of this builder) and that `accept`s, when given; or null.
   */
  findFree(builder: BuilderFit, accept: (agentName: string) => boolean = () => true): AgentEntry | null {
    return this.index.first(builder, (a) => accept(a.config.name));
  }

  /** Every connected agent that can take a build of the builder now, least busy first. */
  freeFor(builder: BuilderFit): Iterable<AgentEntry> {
    return this.index.free(builder);
  }

  /** Whether a connected agent fits the builder, busy or not. */
  hasFitting(builder: BuilderFit): boolean {
    return this.index.hasFitting(builder);
  }

  /** Free build slots over all connected agents. */
  get freeSlots(): number {
    return this.index.freeSlots;
  }

  acquire(name: string, builder: string): void {
    const a = this.met.get(name);
    if (!a) return;
    a.running++;
    a.builders.add(builder);
    this.index.update(a);
  }

  release(name: string, builder: string): void {
    const a = this.met.get(name);
    if (!a) return;
    a.running = Math.max(0, a.running - 1);
    a.builders.delete(builder);
    this.index.update(a);
    if (this.retiring.has(name) && a.running === 0) this.retire(a);
    else this.bus.publish('agent.available', { name });
  }

  /**
   * A reconfig's agents. Added ones may connect from now on. A removed agent's token is refused from
   * now on and its connection closed once it runs no build (at once when idle); so is one whose token
   * changed (it reconnects with its new token). Other changes (labels, maxBuilds) apply at once to a
   * connected agent. Builders are matched to agents afresh: their `agents` and `labels` may have changed.
   */
  updateConfig(agents: AgentConfig[]): void {
    const before = new Map(this.configured.map((a) => [a.name, a]));
    this.configured = agents;
    this.configuredByName = new Map(agents.map((a) => [a.name, a]));
    this.index.forgetBuilders();
    for (const config of agents) {
      this.retiring.delete(config.name);
      const entry = this.met.get(config.name);
      const old = before.get(config.name);
      if (!entry || !old || old === config) continue;
      if (old.token !== config.token) this.retiring.add(config.name);
      else {
        entry.config = config;
        if (entry.handle.connected) this.index.connect(entry);
      }
    }
    for (const name of before.keys()) if (!agents.some((a) => a.name === name)) this.retiring.add(name);
    for (const name of [...this.retiring]) {
      const entry = this.met.get(name);
      if (!entry || !entry.handle.connected) this.retiring.delete(name);
      else if (entry.running === 0) this.retire(entry);
      else this.index.disconnect(entry); // no new build: the ones it runs finish first
    }
  }

  /** Closes a retiring agent's connection: its config is gone or its token changed (see updateConfig). */
  private retire(entry: AgentEntry): void {
    this.retiring.delete(entry.config.name);
    this.index.disconnect(entry);
    entry.handle.session?.close("removed from the master's config (reconfig)");
  }

  /** Configured agents; `connected` only for those with an open connection now. */
  list(): { config: AgentConfig; connected: AgentEntry | undefined }[] {
    return this.configured.map((config) => {
      const entry = this.met.get(config.name);
      return { config, connected: entry?.handle.connected ? entry : undefined };
    });
  }
}
