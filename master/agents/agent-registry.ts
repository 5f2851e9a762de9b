/**
 * The configured agents the master has met, connected or not, and how busy they are. An agent is
 * free for a builder when it is connected, fits the builder (names, labels) and runs fewer than
 * `maxBuilds` builds. The registry announces its own changes on the bus: `agent.connected` when a
 * session is attached, `agent.disconnected` when it closes, `agent.available` when a build ends.
 *
 * An agent's entry is made on its first connection and lasts for the master's life: its handle keeps
 * runs through short disconnects, and its build counts stay true across reconnects.
 */
import type { EventBus } from '../events/event-bus.ts';
import { agentFits } from '../config/compile.ts';
import { AgentHandle } from './agent-handle.ts';
import type { AgentSession } from './agent-session.ts';

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

  constructor(
    private readonly configured: AgentConfig[],
    private readonly bus: EventBus,
    private readonly graceMs: number,
  ) {}

  config(name: string): AgentConfig | undefined {
    return this.configured.find((a) => a.name === name);
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
    if (entry) Object.assign(entry, { info, connectedAt });
    else {
      entry = { config, handle: new AgentHandle(config.name, this.graceMs), info, connectedAt, running: 0, builders: new Set() };
      this.met.set(config.name, entry);
    }
    const resume = entry.handle.attach(session, agentRuns);
    session.onClosed(() => this.bus.publish('agent.disconnected', { name: config.name }));
    this.bus.publish('agent.connected', { name: config.name });
    return resume;
  }

  closeAll(): void {
    for (const a of this.met.values()) a.handle.close();
  }

  /** The least busy connected agent that fits (and that `accept`s, when given), or null. */
  findFree(
    builder: { name: string; agents?: string[] | undefined; labels?: string[] | undefined },
    accept: (agentName: string) => boolean = () => true,
  ): AgentEntry | null {
    let best: AgentEntry | null = null;
    for (const a of this.met.values()) {
      const labels = [...a.config.labels, ...a.info.labels];
      if (!a.handle.connected || a.running >= Math.min(a.config.maxBuilds, a.info.capacity) || a.builders.has(builder.name)) continue;
      if (!agentFits(builder, { name: a.config.name, labels }) || !accept(a.config.name)) continue;
      if (!best || a.running < best.running) best = a;
    }
    return best;
  }

  /** Whether a connected agent fits the builder, busy or not. */
  hasFitting(builder: { name: string; agents?: string[] | undefined; labels?: string[] | undefined }): boolean {
    for (const a of this.met.values()) {
      if (a.handle.connected && agentFits(builder, { name: a.config.name, labels: [...a.config.labels, ...a.info.labels] })) return true;
    }
    return false;
  }

  acquire(name: string, builder: string): void {
    const a = this.met.get(name);
    if (!a) return;
    a.running++;
    a.builders.add(builder);
  }

  release(name: string, builder: string): void {
    const a = this.met.get(name);
    if (!a) return;
    a.running = Math.max(0, a.running - 1);
    a.builders.delete(builder);
    this.bus.publish('agent.available', { name });
  }

  /** Configured agents; `connected` only for those with an open connection now. */
  list(): { config: AgentConfig; connected: AgentEntry | undefined }[] {
    return this.configured.map((config) => {
      const entry = this.met.get(config.name);
      return { config, connected: entry?.handle.connected ? entry : undefined };
    });
  }
}
