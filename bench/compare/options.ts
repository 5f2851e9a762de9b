/**
 * bench:compare's knobs: environment variables over the full size or, with `--smoke`, over a tiny
 * size that CI runs so the code cannot rot. A bad value is refused with its name and the rule.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { SystemName } from './system.ts';

export interface CompareOptions {
  smoke: boolean;
  /** Repetitions of every figure; the table shows the median. */
  runs: number;
  /** `true` steps in the per-step and throughput builders. */
  steps: number;
  /** Builds queued at once for the throughput figure. */
  queued: number;
  /** Size of the log in MiB. */
  logMiB: number;
  /** Forces per run for the force-to-start latency. */
  forces: number;
  /** Seconds of each API load (one client, then `apiClients`). */
  apiSeconds: number;
  apiClients: number;
  /** Builds stored on both sides (the same number) before the API is measured, at least. */
  apiMinBuilds: number;
  sides: SystemName[];
  /** Keep the run's directory (masters' logs, databases) even when everything went well. */
  keep: boolean;
}

const FULL: Omit<CompareOptions, 'smoke' | 'sides' | 'keep'> = {
  runs: 3,
  steps: 20,
  queued: 20,
  logMiB: 50,
  forces: 5,
  apiSeconds: 5,
  apiClients: 16,
  apiMinBuilds: 50,
};
const SMOKE: typeof FULL = { runs: 1, steps: 3, queued: 3, logMiB: 1, forces: 2, apiSeconds: 1, apiClients: 16, apiMinBuilds: 5 };

/** Environment variable → option, with the rule each obeys. */
const KNOBS = {
  BENCH_RUNS: ['runs', 1, 100],
  BENCH_STEPS: ['steps', 1, 1000],
  BENCH_QUEUED: ['queued', 1, 1000],
  BENCH_LOG_MB: ['logMiB', 1, 4096],
  BENCH_FORCES: ['forces', 1, 1000],
  BENCH_API_SECONDS: ['apiSeconds', 1, 600],
  BENCH_API_CLIENTS: ['apiClients', 1, 1000],
  BENCH_API_MIN_BUILDS: ['apiMinBuilds', 0, 100_000],
} as const satisfies Record<string, readonly [keyof typeof FULL, number, number]>;

const sidesSchema = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim().toLowerCase()))
  .pipe(z.array(z.enum(['buildbot', 'caliper'])).min(1))
  .transform((xs) => [...new Set(xs)].map((x): SystemName => (x === 'buildbot' ? 'Buildbot' : 'Caliper')));

export const USAGE = `Usage: tsx bench/compare/main.ts [--smoke]
Environment: ${Object.keys(KNOBS).join(', ')}, BENCH_SIDES (buildbot,caliper), BENCH_KEEP=1`;

export function compareOptions(argv: string[], env: NodeJS.ProcessEnv): CompareOptions {
  const { values } = parseArgs({ args: argv, strict: true, options: { smoke: { type: 'boolean' } } });
  const smoke = values.smoke === true;
  const sizes = { ...(smoke ? SMOKE : FULL) };
  const problems: string[] = [];
  for (const [name, [key, min, max]] of Object.entries(KNOBS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min || n > max) problems.push(`${name}=${raw}: must be a whole number from ${min} to ${max}`);
    else sizes[key] = n;
  }
  const sides = sidesSchema.safeParse(env.BENCH_SIDES ?? 'buildbot,caliper');
  if (!sides.success) problems.push(`BENCH_SIDES=${env.BENCH_SIDES}: must list buildbot and/or caliper, comma-separated`);
  if (problems.length > 0 || !sides.success) throw new Error(`${problems.join('\n')}\n${USAGE}`);
  return { smoke, ...sizes, sides: sides.data, keep: env.BENCH_KEEP === '1' };
}
