/**
 * bench:agents's knobs: environment variables over the full size or, with `--smoke`, over a tiny size
 * that CI runs. A bad value is refused with its name and the rule.
 */
import { parseArgs } from 'node:util';

export interface AgentsOptions {
  smoke: boolean;
  /** Fleet sizes, one master run each, in this order. */
  agentCounts: number[];
  /** Trivial builds forced at once for the dispatch figures. */
  dispatchBuilds: number;
  /** Builds run between the first dispatch round and the steady-state one. */
  warmupBuilds: number;
  /** Builds stored (at least) before the API is read. */
  storedBuilds: number;
  /** Seconds the idle master's CPU is measured over. */
  idleSeconds: number;
  /** Seconds to let the master settle after the last agent connected (agent rows written), before idling. */
  settleSeconds: number;
  /** Timed requests per API path (after one warm-up). */
  apiRequests: number;
  /** Load generator processes; 0: one per 2500 agents, 1 to 4. */
  generators: number;
  /** Handshakes in flight per generator; 0: all at once. */
  connectConcurrency: number;
  connectTimeoutSeconds: number;
  /** Fake agents really spawn the command before answering `exit`. */
  spawn: boolean;
  keep: boolean;
}

const FULL = {
  dispatchBuilds: 200,
  warmupBuilds: 1000,
  storedBuilds: 10_000,
  idleSeconds: 10,
  settleSeconds: 3,
  apiRequests: 20,
  generators: 0,
  connectConcurrency: 0,
  connectTimeoutSeconds: 120,
};
type Sizes = typeof FULL;
const SMOKE: Sizes = {
  ...FULL,
  dispatchBuilds: 10,
  warmupBuilds: 20,
  storedBuilds: 40,
  idleSeconds: 1,
  settleSeconds: 0.5,
  apiRequests: 3,
  connectTimeoutSeconds: 60,
};

const KNOBS = {
  BENCH_DISPATCH_BUILDS: ['dispatchBuilds', 1, 100_000],
  BENCH_WARMUP_BUILDS: ['warmupBuilds', 0, 1_000_000],
  BENCH_STORED_BUILDS: ['storedBuilds', 0, 1_000_000],
  BENCH_IDLE_SECONDS: ['idleSeconds', 1, 600],
  BENCH_SETTLE_SECONDS: ['settleSeconds', 0, 600],
  BENCH_API_REQUESTS: ['apiRequests', 1, 10_000],
  BENCH_GENERATORS: ['generators', 0, 64],
  BENCH_CONNECT_CONCURRENCY: ['connectConcurrency', 0, 1_000_000],
  BENCH_CONNECT_TIMEOUT_S: ['connectTimeoutSeconds', 1, 3600],
} as const satisfies Record<string, readonly [keyof Sizes, number, number]>;

export const USAGE = `Usage: tsx bench/agents/main.ts [--smoke]
Environment: BENCH_AGENTS (100,1000,10000), ${Object.keys(KNOBS).join(', ')}, BENCH_AGENTS_SPAWN=1, BENCH_KEEP=1`;

export function agentsOptions(argv: string[], env: NodeJS.ProcessEnv): AgentsOptions {
  const { values } = parseArgs({ args: argv, strict: true, options: { smoke: { type: 'boolean' } } });
  const smoke = values.smoke === true;
  const sizes: Sizes = { ...(smoke ? SMOKE : FULL) };
  const problems: string[] = [];
  for (const [name, [key, min, max]] of Object.entries(KNOBS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!/^\d+(\.\d+)?$/.test(raw) || n < min || n > max) problems.push(`${name}=${raw}: must be a number from ${min} to ${max}`);
    else sizes[key] = n;
  }
  const countsRaw = env.BENCH_AGENTS || (smoke ? '20' : '100,1000,10000');
  const agentCounts = countsRaw.split(',').map((s) => Number(s.trim()));
  if (agentCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 100_000))
    problems.push(`BENCH_AGENTS=${countsRaw}: must be a comma-separated list of whole numbers from 1 to 100000`);
  if (problems.length > 0) throw new Error(`${problems.join('\n')}\n${USAGE}`);
  return { smoke, ...sizes, agentCounts, spawn: env.BENCH_AGENTS_SPAWN === '1', keep: env.BENCH_KEEP === '1' };
}
