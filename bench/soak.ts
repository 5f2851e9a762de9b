/**
 * Caliper soak: N builds through real agent processes with agent kills, master restarts (SIGTERM,
 * then SIGKILL) and a PostgreSQL restart midway; every request must be built exactly once with
 * byte-exact logs and the master's RSS must stay flat after warm-up. Prints a table; exits 1 when an
 * invariant fails.
 *
 *   npm run soak                                   (10 000 builds, 8 agents, PostgreSQL)
 *   npx tsx bench/soak.ts --builds 1000 --agents 4 --db sqlite
 *
 * See bench/README.md ("Soak") for the flags, the invariants and how long it takes.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_OPTIONS, invariantFailures, runSoak, type SoakOptions } from './soak/run.ts';
import { soakTable } from './soak/table.ts';

const USAGE = `Usage: tsx bench/soak.ts [--builds N] [--agents N] [--db postgres|sqlite] [--agent-kills N] [--db-down-ms MS] [--timeout-min N] [--keep]`;

const count = (name: string) => z.string().regex(/^\d+$/, `${name} must be a whole number`).transform(Number).optional();
const flags = z.object({
  builds: count('--builds').refine((n) => n === undefined || n >= 10, '--builds must be at least 10'),
  agents: count('--agents').refine((n) => n === undefined || n >= 2, '--agents must be at least 2'),
  db: z.enum(['postgres', 'sqlite']).optional(),
  'agent-kills': count('--agent-kills'),
  'db-down-ms': count('--db-down-ms'),
  'timeout-min': count('--timeout-min'),
  keep: z.boolean().optional(),
});

function options(argv: string[]): Partial<SoakOptions> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      builds: { type: 'string' },
      agents: { type: 'string' },
      db: { type: 'string' },
      'agent-kills': { type: 'string' },
      'db-down-ms': { type: 'string' },
      'timeout-min': { type: 'string' },
      keep: { type: 'boolean' },
    },
  });
  const v = flags.parse(values);
  const builds = v.builds ?? DEFAULT_OPTIONS.builds;
  const agents = v.agents ?? DEFAULT_OPTIONS.agents;
  return {
    builds,
    agents,
    window: agents * 4,
    // One kill per 500 builds by default (20 at 10 000), at least one.
    agentKills: v['agent-kills'] ?? Math.max(1, Math.round(builds / 500)),
    ...(v.db ? { db: v.db } : {}),
    ...(v['db-down-ms'] !== undefined ? { dbDownMs: v['db-down-ms'] } : {}),
    ...(v['timeout-min'] !== undefined ? { timeoutMs: v['timeout-min'] * 60_000 } : {}),
    ...(v.keep ? { keep: true } : {}),
  };
}

let parsed: Partial<SoakOptions>;
try {
  parsed = options(process.argv.slice(2));
} catch (e) {
  console.error(
    `${e instanceof z.ZodError ? e.issues.map((i) => i.message).join('; ') : e instanceof Error ? e.message : String(e)}\n${USAGE}`,
  );
  process.exit(2);
}

const report = await runSoak(parsed);
console.log(soakTable(report));
const failures = invariantFailures(report, { rss: true });
if (failures.length === 0) console.log('soak: every invariant holds');
else for (const f of failures) console.log(`soak: FAILED: ${f}`);
process.exit(failures.length === 0 ? 0 : 1);
