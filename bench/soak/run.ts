/**
 * One soak run: a master process on its own PostgreSQL (or SQLite), `agents` agent processes, and
 * `builds` requests forced through the API, each with a `seq` property; meanwhile agents are killed
 * (SIGKILL) and started again, the master is restarted (SIGTERM, later SIGKILL) and PostgreSQL is
 * stopped for a few seconds. At the end every request is accounted for through the API.
 *
 * What "built exactly once" means here (the soak's contract with the master):
 *   - a *request* is one `seq` (1..N). The soak keeps at most one open build request per seq;
 *   - a build RETRY (its agent was killed) is requeued by the master: same build request, a new build;
 *   - a request that ends EXCEPTION because the master was killed during its build ("master restarted
 *     during the build") is forced again by the soak as a new build request of the same seq, and
 *     counted as "rebuilt after a master kill". Any other end but SUCCESS is forced again too, but
 *     counted as unexpected, which fails the soak;
 *   - at the end each seq must have exactly one SUCCESS build (0: missing, 2+: duplicate), whose
 *     logs are byte-exact; every interrupted build's logs must be a prefix of the expected bytes.
 * Submissions pause while the master restarts (in-flight POSTs finish first) so no POST is cut by a
 * kill; a POST that fails while the database is away is looked up by its unique reason before it is
 * sent again, so a request stored before the failure is not submitted twice.
 *
 * States of the run: starting → building (churn fires at fractions of N built) → accounting → stopped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SoakApi, attempt, isTransient, type AgentView, type BuildRequestView, type BuildView } from './api.ts';
import { BUILDER, configText, soakAgents } from './config-file.ts';
import { checkBuildLogs, type LogCheck } from './verify-logs.ts';
import { MasterProcess, ROOT, agentProcesses, freePort, rssKib } from './processes.ts';
import { rssByLifetime, type Lifetime, type LifetimeRss, type RssSample } from './rss.ts';
import { ownPostgres, type OwnPostgres } from '../../test/helpers/own-postgres.ts';
import { Results } from '../../core/results.ts';

export interface SoakOptions {
  builds: number;
  agents: number;
  db: 'postgres' | 'sqlite';
  /** Agent SIGKILLs, spread evenly over the run (each agent started again after `agentDownMs`). */
  agentKills: number;
  agentDownMs: number;
  /** Fractions of `builds` built at which the master gets SIGTERM / SIGKILL and PostgreSQL stops; null: never. */
  masterTermAt: number | null;
  masterKillAt: number | null;
  dbRestartAt: number | null;
  dbDownMs: number;
  /** Most open build requests at once. */
  window: number;
  /** The whole run gives up (missing requests are reported) after this long. */
  timeoutMs: number;
  /** …or when nothing was built for this long (a request stuck for good). */
  stallMs: number;
  /** Keep the run's directory (logs of the master and agents) even when every invariant holds. */
  keep: boolean;
  log: (line: string) => void;
}

export const DEFAULT_OPTIONS: SoakOptions = {
  builds: 10_000,
  agents: 8,
  db: 'postgres',
  agentKills: 20,
  agentDownMs: 1000,
  masterTermAt: 0.25,
  masterKillAt: 0.4,
  dbRestartAt: 0.55,
  dbDownMs: 3000,
  window: 32,
  timeoutMs: 60 * 60_000,
  stallMs: 120_000,
  keep: false,
  log: (line) => console.error(line),
};

export interface SoakReport {
  options: Omit<SoakOptions, 'log'>;
  dir: string;
  /** Wall time from the first submission until the last seq was built. */
  buildingMs: number;
  requested: number;
  buildRequests: number;
  builtOnce: number;
  duplicates: number[];
  /** Which builds of which requests, for each duplicate: what a reader needs to find the cause. */
  duplicateDetails: string[];
  missing: number[];
  stuckRequests: number[];
  logsExact: number;
  logsMismatched: string[];
  interruptedLogsPrefix: number;
  interruptedLogsBad: string[];
  /** Builds by result name, and the non-SUCCESS ones by "result: state string". */
  buildsByResult: Record<string, number>;
  interruptions: Record<string, number>;
  rebuiltAfterMasterKill: number;
  unexpectedEnds: Record<string, number>;
  postsLookedUp: number;
  agentKills: number;
  agentKillsMidBuild: number;
  masterRestarts: { sigterm: number; sigkill: number };
  masterRestartMs: number[];
  dbRestarts: number;
  dbDownMs: number[];
  rss: LifetimeRss[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MASTER_KILL_STATE = 'master restarted during the build';
const count = (into: Record<string, number>, key: string) => void (into[key] = (into[key] ?? 0) + 1);
const seqOf = (r: BuildRequestView): number | null => (typeof r.properties.seq === 'number' ? r.properties.seq : null);

type Churn = { at: number; kind: 'agent-kill' | 'master-sigterm' | 'master-sigkill' | 'db-restart' };

function churnPlan(o: SoakOptions): Churn[] {
  const plan: Churn[] = [];
  for (let i = 1; i <= o.agentKills; i++) plan.push({ at: Math.floor((i * o.builds) / (o.agentKills + 1)), kind: 'agent-kill' });
  const at = (f: number | null, kind: Churn['kind']) => void (f === null || plan.push({ at: Math.floor(f * o.builds), kind }));
  at(o.masterTermAt, 'master-sigterm');
  at(o.masterKillAt, 'master-sigkill');
  at(o.dbRestartAt, 'db-restart');
  return plan.sort((a, b) => a.at - b.at);
}

export async function runSoak(options: Partial<SoakOptions> = {}): Promise<SoakReport> {
  const o: SoakOptions = { ...DEFAULT_OPTIONS, ...options };
  const { log, ...shown } = o;
  const deadline = Date.now() + o.timeoutMs;
  fs.mkdirSync(path.join(ROOT, 'tmp'), { recursive: true });
  // Inside the package: the config imports 'caliper', which resolves to this package from here.
  const dir = fs.mkdtempSync(path.join(ROOT, 'tmp', 'soak-'));
  const agentsConfig = soakAgents(o.agents);
  const configFile = path.join(dir, 'master.config.ts');
  fs.writeFileSync(configFile, configText(agentsConfig));

  let pg: OwnPostgres | null = null;
  let dbUrl = `sqlite:${path.join(dir, 'soak.sqlite')}`;
  if (o.db === 'postgres') {
    pg = ownPostgres(await freePort());
    dbUrl = await pg.start();
  }
  const port = await freePort();
  const master = new MasterProcess(configFile, port, dbUrl, path.join(dir, 'master.log'));
  const agents = agentProcesses(agentsConfig, port, dir);
  const api = new SoakApi(`http://127.0.0.1:${port}`);

  const report: SoakReport = {
    options: shown,
    dir,
    buildingMs: 0,
    requested: o.builds,
    buildRequests: 0,
    builtOnce: 0,
    duplicates: [],
    duplicateDetails: [],
    missing: [],
    stuckRequests: [],
    logsExact: 0,
    logsMismatched: [],
    interruptedLogsPrefix: 0,
    interruptedLogsBad: [],
    buildsByResult: {},
    interruptions: {},
    rebuiltAfterMasterKill: 0,
    unexpectedEnds: {},
    postsLookedUp: 0,
    agentKills: 0,
    agentKillsMidBuild: 0,
    masterRestarts: { sigterm: 0, sigkill: 0 },
    masterRestartMs: [],
    dbRestarts: 0,
    dbDownMs: [],
    rss: [],
  };

  // What the loops share.
  const outstanding = new Map<number, number>(); // buildrequestid -> seq
  const toForce: number[] = []; // seqs to force again
  const attempts = new Map<number, number>(); // seq -> submissions so far
  const toVerify: { brid: number; seq: number }[] = [];
  const checks = new Map<number, LogCheck>(); // buildid -> its log check
  let nextSeq = 1;
  let built = 0;
  let paused = false;
  let inFlight = 0;
  let finished = false;
  const samples: RssSample[] = [];
  const lifetimes: Lifetime[] = [];

  const startMaster = async (began: string) => {
    const t = Date.now();
    await master.start();
    lifetimes.push({ index: lifetimes.length, began, ended: 'end of soak', builtAtStart: built, builtAtEnd: o.builds });
    return Date.now() - t;
  };
  const endLifetime = (how: string) => {
    const l = lifetimes.at(-1);
    if (l) Object.assign(l, { ended: how, builtAtEnd: built });
  };

  const submit = async (seq: number): Promise<void> => {
    const n = (attempts.get(seq) ?? 0) + 1;
    attempts.set(seq, n);
    const reason = `soak seq ${seq} #${n}`;
    let lookedUp = false;
    for (;;) {
      try {
        outstanding.set(await api.force(BUILDER, reason, { seq }), seq);
        report.buildRequests++;
        return;
      } catch (e) {
        if (!isTransient(e) || Date.now() > deadline) throw e;
        // Did it land before the failure? Ask (until the API answers) before sending it again.
        if (!lookedUp) report.postsLookedUp++;
        lookedUp = true;
        const found = await attempt(() => api.requestsWithReason(reason), deadline);
        const [landed] = found;
        if (landed) {
          outstanding.set(landed.buildrequestid, seq);
          report.buildRequests += found.length;
          return;
        }
        await sleep(200);
      }
    }
  };

  // New seqs wait for the next planned churn to fire: a fast run must not finish before its churn.
  let churnGate = Infinity;
  const submitter = async () => {
    while (!finished) {
      const gated = toForce.length === 0 && nextSeq > churnGate + o.window;
      if (paused || gated || outstanding.size >= o.window || (toForce.length === 0 && nextSeq > o.builds)) {
        await sleep(20);
        continue;
      }
      const seq = toForce.shift() ?? nextSeq++;
      inFlight++;
      try {
        await submit(seq);
      } finally {
        inFlight--;
      }
    }
  };

  /** A request that ended other than SUCCESS: why (from its last build), then it is forced again. */
  const ended = async (r: BuildRequestView, seq: number) => {
    const builds = await attempt(() => api.buildsOfRequest(r.buildrequestid), deadline);
    const last = builds.at(-1);
    if (r.results === Results.EXCEPTION && last?.state_string.includes(MASTER_KILL_STATE)) report.rebuiltAfterMasterKill++;
    else count(report.unexpectedEnds, `${r.result ?? 'no result'}: ${last ? `${last.result}: ${last.state_string}` : 'no build'}`);
    toForce.push(seq);
  };

  const tracker = async () => {
    while (!finished) {
      const ids = [...outstanding.keys()];
      try {
        for (let i = 0; i < ids.length; i += 100) {
          for (const r of await api.completeRequests(ids.slice(i, i + 100))) {
            const seq = outstanding.get(r.buildrequestid);
            if (seq === undefined) continue;
            outstanding.delete(r.buildrequestid);
            if (r.results === Results.SUCCESS) {
              built++;
              toVerify.push({ brid: r.buildrequestid, seq });
            } else await ended(r, seq);
          }
        }
      } catch (e) {
        if (!isTransient(e)) throw e;
      }
      await sleep(200);
    }
  };

  const verifyBuild = async (b: BuildView, seq: number) => {
    if (!b.complete || checks.has(b.buildid)) return;
    checks.set(b.buildid, await checkBuildLogs(api, b, seq, deadline));
  };
  const verifier = async () => {
    while (!finished || toVerify.length > 0) {
      const next = toVerify.shift();
      if (!next) {
        await sleep(50);
        continue;
      }
      for (const b of await attempt(() => api.buildsOfRequest(next.brid), deadline)) await verifyBuild(b, next.seq);
    }
  };

  const churn = async () => {
    for (const step of churnPlan(o)) {
      churnGate = step.at;
      while (built < step.at && !finished) await sleep(100);
      if (finished) return;
      switch (step.kind) {
        case 'agent-kill': {
          // Prefer an agent in the middle of a build (that is what makes a RETRY): look for one for up to 3 s.
          // Take turns among the busy ones, so the kills do not all fall on the first agent.
          let busy: AgentView | undefined;
          for (const until = Date.now() + 3000; !busy && Date.now() < until; await sleep(50)) {
            const candidates = (await attempt(() => api.agents(), deadline)).filter((a) => a.running_builds > 0 && a.connected);
            busy = candidates[report.agentKills % Math.max(1, candidates.length)];
          }
          const victim = agents.find((a) => a.name === busy?.name) ?? agents[report.agentKills % agents.length];
          if (!victim) break;
          await victim.stop('SIGKILL');
          report.agentKills++;
          if (busy) report.agentKillsMidBuild++;
          log(`[soak] ${built}/${o.builds}: agent ${victim.name} killed (SIGKILL${busy ? ', mid-build' : ''})`);
          await sleep(o.agentDownMs);
          victim.start();
          break;
        }
        case 'master-sigterm':
        case 'master-sigkill': {
          const signal = step.kind === 'master-sigterm' ? 'SIGTERM' : 'SIGKILL';
          paused = true;
          while (inFlight > 0) await sleep(10);
          const t = Date.now();
          endLifetime(signal);
          await master.stop(signal, 120_000);
          await startMaster(`after ${signal}`);
          paused = false;
          report.masterRestartMs.push(Date.now() - t);
          if (signal === 'SIGTERM') report.masterRestarts.sigterm++;
          else report.masterRestarts.sigkill++;
          log(`[soak] ${built}/${o.builds}: master restarted after ${signal} in ${Date.now() - t} ms`);
          break;
        }
        case 'db-restart': {
          if (!pg) break; // SQLite lives in the master's process
          const t = Date.now();
          await pg.stop({ mode: 'fast' });
          await sleep(o.dbDownMs);
          await pg.start();
          report.dbRestarts++;
          report.dbDownMs.push(Date.now() - t);
          log(`[soak] ${built}/${o.builds}: PostgreSQL stopped (fast) and started again, down ${Date.now() - t} ms`);
          break;
        }
        default: {
          const never: never = step.kind;
          throw new Error(`unknown churn ${String(never)}`);
        }
      }
    }
    churnGate = Infinity;
  };

  const sampler = setInterval(() => {
    if (paused) return; // a master being restarted belongs to no lifetime's figures
    const pid = master.running ? master.pid : null;
    const kib = pid === null ? null : rssKib(pid);
    const lifetime = lifetimes.at(-1);
    if (kib !== null && lifetime) samples.push({ lifetime: lifetime.index, built, kib });
  }, 1000);

  let ok = false;
  try {
    await startMaster('soak start');
    for (const a of agents) a.start();
    await attempt(async () => {
      const up = (await api.agents()).filter((a) => a.connected).length;
      if (up < o.agents) throw new TypeError(`${up} of ${o.agents} agents connected`);
    }, Date.now() + 60_000);
    log(`[soak] master ${master.url} (pid ${master.pid}) on ${o.db}, ${o.agents} agents connected; dir ${dir}`);

    const t0 = Date.now();
    let lastReport = 0;
    const loops = Promise.all([submitter(), tracker(), churn()]);
    const verifying = Promise.all([verifier(), verifier()]);
    // A loop that throws (an answer of the wrong shape, a 4xx) ends the run at once.
    let failure: unknown = null;
    loops.catch((e: unknown) => (failure = e));
    verifying.catch((e: unknown) => (failure = e));
    let progressAt = Date.now();
    let builtBefore = 0;
    while (built < o.builds && Date.now() < deadline && failure === null) {
      await sleep(200);
      if (built !== builtBefore) [builtBefore, progressAt] = [built, Date.now()];
      // A request stuck for good (a build left "running") must not hold the run until its timeout.
      if (Date.now() - progressAt > o.stallMs) {
        log(`[soak] nothing built for ${o.stallMs / 1000} s: ending the run; open requests ${[...outstanding.keys()].join(', ')}`);
        break;
      }
      if (built - lastReport >= o.builds / 10) {
        lastReport = built;
        const kib = master.running && master.pid !== null ? rssKib(master.pid) : null;
        log(
          `[soak] ${built}/${o.builds} built, ${((built / (Date.now() - t0)) * 60_000).toFixed(0)} builds/min, master RSS ${kib === null ? '-' : (kib / 1024).toFixed(1)} MiB`,
        );
      }
    }
    report.buildingMs = Date.now() - t0;
    endLifetime('end of soak');
    finished = true;
    clearInterval(sampler);
    await Promise.allSettled([loops, verifying]);
    if (failure !== null) throw failure;

    await account(api, o, report, checks, deadline + 5 * 60_000);
    report.rss = rssByLifetime(lifetimes, samples, o.builds);
    ok = true;
    return report;
  } finally {
    finished = true;
    clearInterval(sampler);
    await Promise.all(agents.map((a) => a.stop('SIGTERM', 10_000)));
    await master.stop('SIGTERM', 30_000);
    await pg?.remove();
    const clean = ok && invariantFailures(report, { rss: false }).length === 0;
    if (clean && !o.keep) fs.rmSync(dir, { recursive: true, force: true });
    else log(`[soak] kept ${dir} (master.log, agent-*.log)`);
  }
}

/** The final pass: every request and build through the API, and the logs of builds not yet checked. */
async function account(api: SoakApi, o: SoakOptions, report: SoakReport, checks: Map<number, LogCheck>, deadline: number) {
  const requests = await attempt(() => api.allRequests(), deadline);
  const builds = await attempt(() => api.allBuilds(), deadline);
  const seqOfRequest = new Map<number, number>();
  for (const r of requests) {
    const seq = seqOf(r);
    if (seq === null || !r.reason.startsWith('soak seq ')) continue;
    seqOfRequest.set(r.buildrequestid, seq);
    if (!r.complete) report.stuckRequests.push(r.buildrequestid);
  }
  const successes = new Map<number, BuildView[]>();
  for (const b of builds) {
    const seq = seqOfRequest.get(b.buildrequestid);
    if (seq === undefined) continue;
    count(report.buildsByResult, b.result ?? 'running');
    if (b.results !== Results.SUCCESS) count(report.interruptions, `${b.result ?? 'running'}: ${b.state_string}`);
    else successes.set(seq, [...(successes.get(seq) ?? []), b]);
    if (b.complete && !checks.has(b.buildid)) checks.set(b.buildid, await checkBuildLogs(api, b, seq, deadline));
  }
  for (let seq = 1; seq <= o.builds; seq++) {
    const mine = successes.get(seq) ?? [];
    if (mine.length === 0) report.missing.push(seq);
    if (mine.length > 1) {
      report.duplicates.push(seq);
      report.duplicateDetails.push(
        `seq ${seq}: ${mine.map((b) => `build ${b.buildid} of request ${b.buildrequestid} on ${b.agent}`).join(', ')}`,
      );
    }
    const only = mine.length === 1 ? mine[0] : undefined;
    if (only && checks.get(only.buildid)?.ok) report.builtOnce++;
  }
  for (const c of checks.values()) {
    if (c.kind === 'complete') {
      if (c.ok) report.logsExact++;
      else report.logsMismatched.push(c.problem);
    } else if (c.ok) report.interruptedLogsPrefix++;
    else report.interruptedLogsBad.push(c.problem);
  }
}

/** The invariants the soak holds the master to; each failure as a sentence. `rss`: check RSS growth too (long runs only). */
export function invariantFailures(r: SoakReport, check: { rss: boolean }): string[] {
  const out: string[] = [];
  const list = (xs: readonly (number | string)[]) => `${xs.slice(0, 20).join(', ')}${xs.length > 20 ? ', …' : ''}`;
  if (r.missing.length > 0) out.push(`${r.missing.length} requests never built SUCCESS: seq ${list(r.missing)}`);
  if (r.duplicates.length > 0) out.push(`${r.duplicates.length} requests built SUCCESS more than once: ${r.duplicateDetails.join('; ')}`);
  if (r.stuckRequests.length > 0) out.push(`${r.stuckRequests.length} build requests never completed: ${list(r.stuckRequests)}`);
  if (r.logsMismatched.length > 0) out.push(`${r.logsMismatched.length} logs not byte-exact: ${list(r.logsMismatched)}`);
  if (r.interruptedLogsBad.length > 0)
    out.push(`${r.interruptedLogsBad.length} interrupted builds' logs are not a prefix: ${list(r.interruptedLogsBad)}`);
  const unexpected = Object.entries(r.unexpectedEnds);
  if (unexpected.length > 0)
    out.push(`requests ended other than SUCCESS without a master kill: ${unexpected.map(([k, n]) => `${n}× ${k}`).join('; ')}`);
  if (r.builtOnce !== r.requested) out.push(`${r.builtOnce} of ${r.requested} requests built exactly once with exact logs`);
  if (check.rss) {
    const last = r.rss.at(-1);
    if (!last || last.growth === null) out.push('master RSS: the last master lifetime is too short to measure growth after warm-up');
    else if (last.growth >= 0.1) out.push(`master RSS grew ${(last.growth * 100).toFixed(1)} % after warm-up (limit 10 %)`);
  }
  return out;
}
