/**
 * The soak (bench/soak.ts, `npm run soak`) at a smoke size: its own code, imported, not shelled out.
 * A real master process on a private PostgreSQL cluster, 3 real agent processes, 60 builds; one agent
 * SIGKILLed mid-run, the master restarted after SIGTERM and again after SIGKILL, PostgreSQL stopped
 * (fast) for 2 s. Every request must end with exactly one SUCCESS build whose logs are byte-exact;
 * a request whose build the master's SIGKILL interrupted is forced again by the soak and counted.
 * RSS growth is not asserted: it needs a long run (the full soak checks it).
 */
import { describe, expect, it } from 'vitest';
import { invariantFailures, runSoak } from '../../bench/soak/run.ts';
import { soakTable } from '../../bench/soak/table.ts';
import { ownPostgresAvailable } from '../helpers/own-postgres.ts';

describe.skipIf(!ownPostgresAvailable())('soak, smoke size', () => {
  it('builds every request exactly once with byte-exact logs through agent, master and database restarts', async () => {
    const lines: string[] = [];
    const report = await runSoak({
      builds: 60,
      agents: 3,
      window: 12,
      agentKills: 1,
      masterTermAt: 0.25,
      masterKillAt: 0.45,
      dbRestartAt: 0.6,
      dbDownMs: 2000,
      timeoutMs: 90_000,
      stallMs: 30_000,
      log: (line) => void lines.push(line),
    });
    const table = soakTable(report);
    console.info(`${lines.join('\n')}\n${table}`);

    expect(invariantFailures(report, { rss: false }), table).toEqual([]);
    expect(report.builtOnce).toBe(60);
    expect(report.logsExact).toBe(60);
    // The churn happened: a run without it would prove nothing.
    expect(report.agentKills).toBe(1);
    expect(report.masterRestarts).toEqual({ sigterm: 1, sigkill: 1 });
    expect(report.dbRestarts).toBe(1);
  }, 150_000);
});
