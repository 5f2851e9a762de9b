/** bench:agents's table: one row per figure, one column per fleet size N. Markdown, ready to paste. */
import type { AgentsOptions } from './options.ts';

export interface ApiTiming {
  medianMs: number;
  maxMs: number;
  bytes: number;
}

export interface DispatchFigures {
  dispatchMs: number;
  completeMs: number;
  cpuPerBuildMs: number;
}

export interface FleetFigures {
  agents: number;
  connected: number;
  /** null when not every agent connected in time. */
  connectMs: number | null;
  dropped: number;
  retried: number;
  lost: number;
  idleCpuPercent: number;
  idleRssMiB: number;
  /** The first dispatch round after the master started, and one after `warmupBuilds` more. */
  first: DispatchFigures;
  warm: DispatchFigures;
  storedBuilds: number;
  builds: ApiTiming;
  agentsApi: ApiTiming;
  builders: ApiTiming;
}

const num = (x: number | null): string => {
  if (x === null || !Number.isFinite(x)) return '-';
  const abs = Math.abs(x);
  return x.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
};

function dispatchRows(which: string, of: (f: FleetFigures) => DispatchFigures): [string, (f: FleetFigures) => string][] {
  return [
    [`${which}: force → last \`run\` at an agent, ms`, (f) => num(of(f).dispatchMs)],
    [`${which}: force → all complete, ms`, (f) => num(of(f).completeMs)],
    [`${which}: master CPU per build, ms`, (f) => num(of(f).cpuPerBuildMs)],
  ];
}

export function agentsTable(o: AgentsOptions, runs: FleetFigures[]): string {
  const rows: [string, (f: FleetFigures) => string][] = [
    ['agents connected', (f) => `${f.connected}/${f.agents}`],
    ['time to connect all, ms', (f) => num(f.connectMs)],
    ['connections dropped before welcome', (f) => String(f.dropped)],
    ['connections retried', (f) => String(f.retried)],
    ['connections lost after welcome', (f) => String(f.lost)],
    [`idle master CPU over ${o.idleSeconds} s, % of a core`, (f) => num(f.idleCpuPercent)],
    ['idle master RSS, MiB', (f) => num(f.idleRssMiB)],
    ...dispatchRows(`${o.dispatchBuilds} builds, the first after start`, (f) => f.first),
    ...dispatchRows(`${o.dispatchBuilds} builds after ${o.warmupBuilds} more`, (f) => f.warm),
    ['builds stored when the API was read', (f) => String(f.storedBuilds)],
    ['GET /api/v2/builds?limit=200, median ms', (f) => num(f.builds.medianMs)],
    ['GET /api/v2/builds?limit=200, max ms', (f) => num(f.builds.maxMs)],
    ['GET /api/v2/agents, median ms', (f) => num(f.agentsApi.medianMs)],
    ['GET /api/v2/agents, KiB', (f) => num(f.agentsApi.bytes / 1024)],
    ['GET /api/v2/builders, median ms', (f) => num(f.builders.medianMs)],
    ['GET /api/v2/builders, KiB', (f) => num(f.builders.bytes / 1024)],
  ];
  return [
    `| figure | ${runs.map((r) => `N = ${r.agents}`).join(' | ')} |`,
    `|---|${runs.map(() => '---').join('|')}|`,
    ...rows.map(([label, value]) => `| ${label} | ${runs.map(value).join(' | ')} |`),
  ].join('\n');
}
