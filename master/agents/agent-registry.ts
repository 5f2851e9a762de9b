/**
 * Which configured agents are connected and how busy they are. An agent is free for a builder when
 * it is connected, fits the builder (names, labels) and runs fewer than `maxBuilds` builds.
 */
import type { EventBus } from '../events/event-bus.ts';
import { agentFits } from '../config/compile.ts';
import type { AgentSession } from './agent-session.ts';

export interface AgentConfig {
  name: string;
  token: string;
  labels: string[];
  maxBuilds: number;
}

export interface ConnectedAgent {
  config: AgentConfig;
  session: AgentSession;
  info: { os: string; version: string; labels: string[]; capacity: number };
  connectedAt: number;
  running: number;
  /** Builders with a build on this agent now: one build per builder per agent, as in Buildbot, since builds of a builder share its directory. */
  builders: Set<string>;
}

export class AgentRegistry {
  private readonly connected = new Map<string, ConnectedAgent>();

  constructor(
    private readonly configured: AgentConfig[],
    private readonly bus: EventBus,
  ) {}

  config(name: string): AgentConfig | undefined {
    return this.configured.find((a) => a.name === name);
  }

  get(name: string): ConnectedAgent | undefined {
    return this.connected.get(name);
  }

  add(agent: Omit<ConnectedAgent, 'running' | 'builders'>): void {
    this.connected.set(agent.config.name, { ...agent, running: 0, builders: new Set() });
    this.bus.publish('agent.connected', { name: agent.config.name });
  }

  remove(name: string, session: AgentSession): void {
    if (this.connected.get(name)?.session !== session) return;
    this.connected.delete(name);
    this.bus.publish('agent.disconnected', { name });
  }

  /** The least busy connected agent that fits, or null. */
  findFree(builder: { name: string; agents?: string[] | undefined; labels?: string[] | undefined }): ConnectedAgent | null {
    let best: ConnectedAgent | null = null;
    for (const a of this.connected.values()) {
      const labels = [...a.config.labels, ...a.info.labels];
      if (!a.session.isOpen || a.running >= Math.min(a.config.maxBuilds, a.info.capacity) || a.builders.has(builder.name)) continue;
      if (!agentFits(builder, { name: a.config.name, labels })) continue;
      if (!best || a.running < best.running) best = a;
    }
    return best;
  }

  acquire(name: string, builder: string): void {
    const a = this.connected.get(name);
    if (!a) return;
    a.running++;
    a.builders.add(builder);
  }

  release(name: string, builder: string): void {
    const a = this.connected.get(name);
    if (!a) return;
    a.running = Math.max(0, a.running - 1);
    a.builders.delete(builder);
    this.bus.publish('agent.available', { name });
  }

  list(): { config: AgentConfig; connected: ConnectedAgent | undefined }[] {
    return this.configured.map((config) => ({ config, connected: this.connected.get(config.name) }));
  }
}
