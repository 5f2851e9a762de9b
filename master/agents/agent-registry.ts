/**
 * Which configured agents are connected and how busy they are. An agent is free for a builder when
 * it is connected, fits the builder (names, labels) and runs fewer than `maxBuilds` builds.
 */
import type { EventBus } from '../events/event-bus.ts';
import { agentFits } from '../config/compile.ts';
import { AgentHandle } from './agent-handle.ts';

export interface AgentConfig {
  name: string;
  token: string;
  labels: string[];
  maxBuilds: number;
}

export interface ConnectedAgent {
  config: AgentConfig;
  /** Routes commands to the agent's current connection; keeps runs through short disconnects. */
  handle: AgentHandle;
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
    private readonly graceMs: number,
  ) {}

  config(name: string): AgentConfig | undefined {
    return this.configured.find((a) => a.name === name);
  }

  get(name: string): ConnectedAgent | undefined {
    return this.connected.get(name);
  }

  /** The agent's handle, made on its first connection; it lasts (with its build counts) across reconnects. */
  entry(config: AgentConfig, info: ConnectedAgent['info'], connectedAt: number): ConnectedAgent {
    let entry = this.connected.get(config.name);
    if (entry) Object.assign(entry, { info, connectedAt });
    else {
      entry = { config, handle: new AgentHandle(config.name, this.graceMs), info, connectedAt, running: 0, builders: new Set() };
      this.connected.set(config.name, entry);
    }
    return entry;
  }

  announceConnected(name: string): void {
    this.bus.publish('agent.connected', { name });
  }

  announceDisconnected(name: string): void {
    this.bus.publish('agent.disconnected', { name });
  }

  closeAll(): void {
    for (const a of this.connected.values()) a.handle.close();
  }

  /** The least busy connected agent that fits (and that `accept`s, when given), or null. */
  findFree(
    builder: { name: string; agents?: string[] | undefined; labels?: string[] | undefined },
    accept: (agentName: string) => boolean = () => true,
  ): ConnectedAgent | null {
    let best: ConnectedAgent | null = null;
    for (const a of this.connected.values()) {
      const labels = [...a.config.labels, ...a.info.labels];
      if (!a.handle.connected || a.running >= Math.min(a.config.maxBuilds, a.info.capacity) || a.builders.has(builder.name)) continue;
      if (!agentFits(builder, { name: a.config.name, labels }) || !accept(a.config.name)) continue;
      if (!best || a.running < best.running) best = a;
    }
    return best;
  }

  /** Whether a connected agent fits the builder, busy or not. */
  hasFitting(builder: { name: string; agents?: string[] | undefined; labels?: string[] | undefined }): boolean {
    for (const a of this.connected.values()) {
      if (a.handle.connected && agentFits(builder, { name: a.config.name, labels: [...a.config.labels, ...a.info.labels] })) return true;
    }
    return false;
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

  /** Configured agents; `connected` only for those with an open connection now. */
  list(): { config: AgentConfig; connected: ConnectedAgent | undefined }[] {
    return this.configured.map((config) => {
      const entry = this.connected.get(config.name);
      return { config, connected: entry?.handle.connected ? entry : undefined };
    });
  }
}
