/**
 * Free agents by index (master/agents/free-agent-index.ts through AgentRegistry): the registry's
 * answers equal a scan of every agent after any sequence of connects, disconnects, builds started
 * and ended; and finding a free agent reads no agent's labels once the index is built, however many
 * agents are connected (so a claim pass costs O(requests + builders), not O(requests × agents)).
 * Sessions are real AgentSessions over an in-memory socket.
 */
import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { WebSocket } from 'ws';
import { AgentRegistry, type AgentConfig, type AgentEntry, type AgentInfo } from '../../master/agents/agent-registry.ts';
import { AgentSession } from '../../master/agents/agent-session.ts';
import { agentFits } from '../../master/config/compile.ts';
import { EventBus } from '../../master/events/event-bus.ts';
import { silentLogger } from '../../core/logger.ts';

/** The socket an AgentSession needs, in memory: close() closes it at once. */
class MemorySocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  send(): void {}
  close(): void {
    if (this.readyState !== 1) return;
    this.readyState = 3;
    this.emit('close');
  }
  terminate(): void {
    this.close();
  }
}

const sessions: AgentSession[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.close('test over');
});

function connect(registry: AgentRegistry, config: AgentConfig, info: Partial<AgentInfo> = {}): AgentSession {
  const session = new AgentSession(config.name, new MemorySocket() as unknown as WebSocket, silentLogger, 3_600_000, 3);
  sessions.push(session);
  registry.attach(config, session, { os: 'linux', version: 'test', labels: [], capacity: 8, ...info }, [], Date.now());
  return session;
}

const agent = (name: string, labels: string[] = [], maxBuilds = 1): AgentConfig => ({ name, token: 'token-0123456789', labels, maxBuilds });

/** What the registry answered before the index: a scan of every agent met. */
function scanFree(registry: AgentRegistry, names: string[], builder: { name: string; agents?: string[]; labels?: string[] }): AgentEntry[] {
  return names.flatMap((n) => {
    const a = registry.get(n);
    if (!a || !a.handle.connected || a.running >= Math.min(a.config.maxBuilds, a.info.capacity) || a.builders.has(builder.name)) return [];
    return agentFits(builder, { name: a.config.name, labels: [...a.config.labels, ...a.info.labels] }) ? [a] : [];
  });
}

describe('free agents by index', () => {
  it('finds the least busy free agent that fits; one build per builder per agent; none once all are busy', () => {
    const registry = new AgentRegistry([agent('a1', ['linux'], 2), agent('a2', ['linux'], 2), agent('w1', ['windows'])], new EventBus(), 0);
    for (const name of ['a1', 'a2', 'w1']) connect(registry, registry.config(name) as AgentConfig);
    const linux = { name: 'compile', labels: ['linux'] };
    expect(registry.findFree(linux)?.config.name).toBe('a1');
    registry.acquire('a1', 'compile');
    // a1 runs a build of compile: never a second one, however many slots it has.
    expect(registry.findFree(linux)?.config.name).toBe('a2');
    registry.acquire('a1', 'test');
    registry.acquire('a2', 'compile');
    expect(registry.findFree(linux)).toBeNull();
    // a1 is full (2 of 2); a2 has a slot left, for another builder.
    expect(registry.findFree({ name: 'lint', labels: ['linux'] })?.config.name).toBe('a2');
    expect(registry.hasFitting(linux)).toBe(true);
    registry.release('a1', 'compile');
    expect(registry.findFree(linux)?.config.name).toBe('a1');
    expect(registry.findFree({ name: 'lint', labels: ['linux'] }, (n) => n !== 'a1')?.config.name).toBe('a2');
    expect(registry.findFree({ name: 'ship', agents: ['w1'] })?.config.name).toBe('w1');
    expect(registry.freeSlots).toBe(1 + 1 + 1); // a1: 2 - 1, a2: 2 - 1, w1: 1
  });

  it('forgets an agent whose connection closed, and refits it by the labels of its next hello', () => {
    const registry = new AgentRegistry([agent('a1')], new EventBus(), 0);
    const config = registry.config('a1') as AgentConfig;
    const gpu = { name: 'train', labels: ['gpu'] };
    const first = connect(registry, config);
    expect(registry.findFree(gpu)).toBeNull();
    expect(registry.findFree({ name: 'any' })?.config.name).toBe('a1');
    first.close('gone');
    expect(registry.findFree({ name: 'any' })).toBeNull();
    expect(registry.hasFitting({ name: 'any' })).toBe(false);
    expect(registry.freeSlots).toBe(0);
    connect(registry, config, { labels: ['gpu'], capacity: 1 });
    expect(registry.findFree(gpu)?.config.name).toBe('a1');
    expect(registry.freeSlots).toBe(1);
  });

  it('keeps a build count across a reconnect: an agent that comes back busy is not free', () => {
    const registry = new AgentRegistry([agent('a1')], new EventBus(), 60_000);
    const config = registry.config('a1') as AgentConfig;
    const session = connect(registry, config);
    registry.acquire('a1', 'b');
    session.close('blip');
    connect(registry, config);
    expect(registry.findFree({ name: 'other' })).toBeNull();
    registry.release('a1', 'b');
    expect(registry.findFree({ name: 'other' })?.config.name).toBe('a1');
  });

  it('answers as a scan of every agent would, after any sequence of connects, disconnects and builds', () => {
    const names = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'];
    const labelsOf = (i: number) => (i % 2 === 0 ? ['linux'] : ['linux', 'big']);
    const builders = [
      { name: 'b0' },
      { name: 'b1', labels: ['big'] },
      { name: 'b2', agents: ['a0', 'a3'] },
      { name: 'b3', labels: ['linux'], agents: ['a1', 'a2', 'a5'] },
    ];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('connect' as const), agent: fc.nat(5), capacity: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('disconnect' as const), agent: fc.nat(5) }),
      fc.record({ kind: fc.constant('acquire' as const), builder: fc.nat(3) }),
      fc.record({ kind: fc.constant('release' as const), agent: fc.nat(5), builder: fc.nat(3) }),
      fc.record({ kind: fc.constant('ask' as const), builder: fc.nat(3) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const registry = new AgentRegistry(
          names.map((n, i) => agent(n, labelsOf(i), 1 + (i % 3))),
          new EventBus(),
          60_000,
        );
        const open = new Map<string, AgentSession>();
        // A builder may be asked about first at any point: its pool is made from the agents connected then.
        for (const o of ops) {
          if (o.kind === 'connect') {
            const name = names[o.agent] as string;
            if (open.has(name)) continue;
            open.set(name, connect(registry, registry.config(name) as AgentConfig, { capacity: o.capacity }));
          } else if (o.kind === 'disconnect') {
            const name = names[o.agent] as string;
            open.get(name)?.close('gone');
            open.delete(name);
          } else if (o.kind === 'acquire') {
            const builder = builders[o.builder] as (typeof builders)[number];
            const free = registry.findFree(builder);
            if (free) registry.acquire(free.config.name, builder.name);
          } else if (o.kind === 'release') {
            const name = names[o.agent] as string;
            const builder = builders[o.builder] as (typeof builders)[number];
            if (registry.get(name)?.builders.has(builder.name)) registry.release(name, builder.name);
          }
          for (const builder of builders) {
            const expected = scanFree(registry, names, builder);
            const found = [...registry.freeFor(builder)];
            expect(new Set(found.map((a) => a.config.name))).toEqual(new Set(expected.map((a) => a.config.name)));
            expect(found.length).toBe(expected.length);
            const least = Math.min(...expected.map((a) => a.running));
            expect(registry.findFree(builder)?.running ?? null).toBe(expected.length === 0 ? null : least);
          }
          const slots = names.reduce((sum, n) => {
            const a = registry.get(n);
            return a?.handle.connected ? sum + Math.max(0, Math.min(a.config.maxBuilds, a.info.capacity) - a.running) : sum;
          }, 0);
          expect(registry.freeSlots).toBe(slots);
        }
        for (const s of open.values()) s.close('done');
      }),
      { numRuns: 200 },
    );
  });

  it('reads no agent to find a free one once the index is built: 10 000 agents, one free', () => {
    let labelReads = 0;
    const configs = Array.from({ length: 10_000 }, (_, i) => {
      const labels = ['linux'];
      const config = agent(`a${i}`);
      // Counts every look at an agent's labels: a scan would read each agent's on every search.
      return Object.defineProperty(config, 'labels', {
        get: () => {
          labelReads++;
          return labels;
        },
      });
    });
    const registry = new AgentRegistry(configs, new EventBus(), 60_000);
    for (const c of configs) connect(registry, c);
    const builder = { name: 'compile', labels: ['linux'] };
    // All busy but the last.
    for (const c of configs.slice(0, -1)) registry.acquire(c.name, 'filler');
    expect(registry.findFree(builder)?.config.name).toBe('a9999'); // builds the pool: one look at each agent
    labelReads = 0;
    for (let i = 0; i < 1000; i++) {
      const free = registry.findFree(builder);
      if (!free) throw new Error('no free agent');
      registry.acquire(free.config.name, builder.name);
      expect(registry.findFree(builder)).toBeNull();
      expect(registry.freeSlots).toBe(0);
      registry.release(free.config.name, builder.name);
    }
    expect(labelReads).toBe(0);
  });
});
