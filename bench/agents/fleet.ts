/**
 * The bench's handle on its load generators: `generators` child processes (fake-agents.ts, forked
 * with tsx), the N agents split evenly among them. It sums their stats and collects the times at
 * which their agents received `run` frames.
 *
 * States: starting → ready → connecting (connect sent) → stopped.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromGenerator, GeneratorStats, ToGenerator } from './fleet-messages.ts';

const GENERATOR = fileURLToPath(new URL('./fake-agents.ts', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Generator {
  child: ChildProcess;
  stats: GeneratorStats;
  from: number;
  to: number;
  pendingRuns: ((at: number[]) => void) | null;
  error: string | null;
}

export interface FleetTotals {
  connected: number;
  dropped: number;
  retried: number;
  lost: number;
  rejects: Record<string, number>;
  runs: number;
  /** When every generator had all its agents connected (the latest of them); null until then. */
  allConnectedAt: number | null;
}

export class Fleet {
  private readonly generators: Generator[] = [];
  private state: 'starting' | 'ready' | 'connecting' | 'stopped' = 'starting';

  private constructor(readonly agents: number) {}

  static async start(agents: number, processes: number): Promise<Fleet> {
    const fleet = new Fleet(agents);
    const per = Math.ceil(agents / processes);
    const ready: Promise<void>[] = [];
    for (let from = 0; from < agents; from += per) {
      const child = fork(GENERATOR, [], {
        execArgv: ['--import', 'tsx'],
        cwd: path.dirname(GENERATOR),
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const g: Generator = { child, stats: emptyStats(), from, to: Math.min(agents, from + per), pendingRuns: null, error: null };
      fleet.generators.push(g);
      ready.push(
        new Promise((resolve, reject) => {
          child.on('message', (m: FromGenerator) => {
            switch (m.type) {
              case 'ready':
                return resolve();
              case 'stats':
                g.stats = m.stats;
                return;
              case 'runs':
                g.stats = m.stats;
                g.pendingRuns?.(m.at);
                g.pendingRuns = null;
                return;
              case 'error':
                g.error = m.message;
                return reject(new Error(`load generator ${child.pid}: ${m.message}`));
              default: {
                const never: never = m;
                return never;
              }
            }
          });
          child.once('exit', (code) => {
            if (fleet.state !== 'stopped') reject(new Error(`load generator ${child.pid} exited (${code}): ${g.error ?? ''}`));
          });
        }),
      );
    }
    await Promise.all(ready);
    fleet.state = 'ready';
    return fleet;
  }

  /** Opens every agent's connection (agent i is `fa-i` with its derived token). */
  connect(url: string, secret: string, opts: { spawn: boolean; concurrency: number }): void {
    if (this.state !== 'ready') throw new Error(`Fleet.connect in state ${this.state}`);
    this.state = 'connecting';
    for (const g of this.generators) this.send(g, { type: 'connect', url, from: g.from, to: g.to, secret, ...opts });
  }

  totals(): FleetTotals {
    const t: FleetTotals = { connected: 0, dropped: 0, retried: 0, lost: 0, rejects: {}, runs: 0, allConnectedAt: 0 };
    for (const { stats: s } of this.generators) {
      t.connected += s.connected;
      t.dropped += s.dropped;
      t.retried += s.retried;
      t.lost += s.lost;
      t.runs += s.runs;
      for (const [code, n] of Object.entries(s.rejects)) t.rejects[code] = (t.rejects[code] ?? 0) + n;
      t.allConnectedAt = s.allConnectedAt === null || t.allConnectedAt === null ? null : Math.max(t.allConnectedAt, s.allConnectedAt);
    }
    return t;
  }

  /** Waits until `predicate` holds for the totals (they arrive every 250 ms); false on timeout. */
  async until(predicate: (t: FleetTotals) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (predicate(this.totals())) return true;
      await sleep(50);
    }
    return predicate(this.totals());
  }

  /** The wall-clock times of every `run` received since the last collect, from every generator. */
  async collectRuns(): Promise<number[]> {
    const all = await Promise.all(
      this.generators.map(
        (g) =>
          new Promise<number[]>((resolve) => {
            g.pendingRuns = resolve;
            this.send(g, { type: 'collect' });
          }),
      ),
    );
    return all.flat();
  }

  pids(): number[] {
    return this.generators.map((g) => g.child.pid).filter((p): p is number => p !== undefined);
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    await Promise.all(
      this.generators.map(async (g) => {
        if (g.child.exitCode !== null || g.child.signalCode !== null) return;
        const exited = new Promise<void>((r) => g.child.once('exit', () => r()));
        this.send(g, { type: 'stop' });
        const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
        if (!done) g.child.kill('SIGKILL');
      }),
    );
  }

  killNow(): void {
    for (const g of this.generators) if (g.child.exitCode === null) g.child.kill('SIGKILL');
  }

  private send(g: Generator, m: ToGenerator): void {
    if (g.child.connected) g.child.send(m);
  }
}

function emptyStats(): GeneratorStats {
  return { connected: 0, dropped: 0, retried: 0, lost: 0, rejects: {}, allConnectedAt: null, runs: 0 };
}
