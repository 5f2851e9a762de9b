/** The soak's figures as a table of `figure | value`, in the order the README explains them. */
import type { SoakReport } from './run.ts';

const mib = (kib: number | null) => (kib === null ? '-' : `${(kib / 1024).toFixed(1)} MiB`);
const pct = (x: number | null) => (x === null ? '-' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`);
const tally = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${n}× ${k}`)
    .join('; ') || 'none';

export function soakTable(r: SoakReport): string {
  const minutes = r.buildingMs / 60_000;
  const rows: [string, string][] = [
    ['database', r.options.db],
    ['builds requested (seq 1..N)', String(r.requested)],
    ['agents', String(r.options.agents)],
    ['build requests submitted', `${r.buildRequests} (${r.buildRequests - r.requested} forced again)`],
    ['built exactly once, logs exact', `${r.builtOnce} of ${r.requested}`],
    ['duplicates (2+ SUCCESS builds)', String(r.duplicates.length)],
    ['missing (no SUCCESS build)', String(r.missing.length)],
    ['requests never completed', String(r.stuckRequests.length)],
    ['logs byte-exact (SUCCESS builds, 2 each)', `${r.logsExact} builds exact, ${r.logsMismatched.length} mismatched`],
    ['interrupted builds: logs a prefix', `${r.interruptedLogsPrefix} yes, ${r.interruptedLogsBad.length} no`],
    ['builds by result', tally(r.buildsByResult)],
    ['interrupted builds (result: cause)', tally(r.interruptions)],
    ['rebuilt after a master kill', String(r.rebuiltAfterMasterKill)],
    ['other non-SUCCESS request ends', tally(r.unexpectedEnds)],
    ['POSTs that failed and were looked up', String(r.postsLookedUp)],
    ['agent kills (SIGKILL)', `${r.agentKills} (${r.agentKillsMidBuild} mid-build)`],
    [
      'master restarts',
      `${r.masterRestarts.sigterm} after SIGTERM, ${r.masterRestarts.sigkill} after SIGKILL (${r.masterRestartMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ') || '-'})`,
    ],
    [
      'database restarts',
      r.options.db === 'postgres'
        ? `${r.dbRestarts} (down ${r.dbDownMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ') || '-'})`
        : 'n/a (SQLite)',
    ],
    ['wall time building', minutes < 2 ? `${(r.buildingMs / 1000).toFixed(1)} s` : `${minutes.toFixed(1)} min`],
    ['throughput', `${(r.requested / minutes).toFixed(0)} builds/min`],
  ];
  for (const l of r.rss)
    rows.push([
      `master RSS, lifetime ${l.index + 1} (${l.began} → ${l.ended}, built ${l.builtAtStart}..${l.builtAtEnd})`,
      `warm ${mib(l.warmKib)}, end ${mib(l.endKib)}, growth ${pct(l.growth)}, max ${mib(l.maxKib)} (${l.samples} samples)`,
    ]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const line = `${'-'.repeat(width + 2)}+${'-'.repeat(60)}`;
  return [line, ...rows.map(([k, v]) => ` ${k.padEnd(width)} | ${v}`), line].join('\n');
}
