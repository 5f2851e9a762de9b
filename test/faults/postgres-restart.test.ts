/**
 * PostgreSQL restarts under a running master: between builds (a clean, fast restart) and during one
 * (every server process killed at once, then crash recovery). The master must stay up, its API must
 * answer with clean JSON errors while the database is away, no build may be left forever incomplete,
 * and once the database is back new builds run end to end with their numbers continuing.
 *
 * A real master in the test process on a private PostgreSQL cluster (test/helpers/own-postgres.ts),
 * and a real agent process. The master is started as startTestMaster starts it, but with a logger
 * that records, so a failure shows what the master saw.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, interpolate } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import { api, forceAndWait, startAgent, stepLog, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { ownPostgres, ownPostgresAvailable, type OwnPostgres } from '../helpers/own-postgres.ts';
import { internalsOf } from '../../master/testing.ts';

const PORT = 55_470;

const config = (): ConfigInput => ({
  agents: [{ name: 'pgr', token: 'pg-restart-token-1' }],
  builders: [
    {
      name: 'quick',
      factory: new BuildFactory().addStep(new ShellCommand({ name: 'say', command: interpolate('echo build %(prop:buildnumber)s') })),
    },
    // A line every 100 ms for about 4 s: the database goes away while its output is being stored.
    {
      name: 'chatty',
      factory: new BuildFactory().addStep(
        new ShellCommand({ name: 'talk', command: 'for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done' }),
      ),
    },
  ],
});

interface LogEntry {
  at: number;
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

function recordingLogger(into: LogEntry[]): Logger {
  const put = (level: string) => (msg: string, fields?: Record<string, unknown>) => void into.push({ at: Date.now(), level, msg, fields });
  return { info: put('info'), warn: put('warn'), error: put('error') };
}

interface Reply {
  status: number;
  body: any;
}

/** A GET that must get an HTTP answer with a JSON body; a refused or reset connection means the master is gone. */
async function get(master: RunningMaster, p: string): Promise<Reply> {
  let res: Response;
  try {
    res = await fetch(`${master.url}/api/v2${p}`);
  } catch (e) {
    throw new Error(`the master did not answer GET ${p}: ${String(e)}`);
  }
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  if (!type.includes('application/json')) throw new Error(`GET ${p}: ${res.status} with ${type}: ${text.slice(0, 300)}`);
  return { status: res.status, body: JSON.parse(text) };
}

/**
 * Polls GET `p` until 200. Every other answer must be a clean 5xx `{"error": {code, message}}` (the
 * database is away), never a dropped connection or a non-JSON page. Returns the 200 and what came before.
 */
async function untilOk(master: RunningMaster, p: string, timeoutMs = 20_000): Promise<{ ok: Reply; failures: Reply[] }> {
  const failures: Reply[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await get(master, p);
    if (r.status === 200) return { ok: r, failures };
    expect(r.status, `GET ${p}: ${JSON.stringify(r.body)}`).toBeGreaterThanOrEqual(500);
    expect(r.body.error, `GET ${p}`).toMatchObject({ code: expect.any(String), message: expect.any(String) });
    expect(JSON.stringify(r.body)).not.toMatch(/\n\s+at /); // no stack trace
    failures.push(r);
    if (Date.now() > deadline) throw new Error(`GET ${p} still failing after ${timeoutMs} ms: ${JSON.stringify(failures.slice(-3))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!ownPostgresAvailable())('PostgreSQL restarts under a running master', () => {
  let pg: OwnPostgres;
  let master: RunningMaster;
  let agent: AgentProcess;
  const log: LogEntry[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);

  const errorsSince = (t: number) =>
    log.filter((e) => e.at >= t && e.level !== 'info').map((e) => `+${e.at - t}ms ${e.level} ${e.msg} ${JSON.stringify(e.fields ?? {})}`);

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    pg = ownPostgres(PORT);
    const url = await pg.start();
    master = await startMaster(compileConfig(config()), {
      port: 0,
      host: '127.0.0.1',
      dbUrl: url,
      log: recordingLogger(log),
      name: `pg-restart-${process.pid}`,
    });
    agent = await startAgent(master, 'pgr', 'pg-restart-token-1');
  });

  afterAll(async () => {
    await agent?.kill();
    // Bounded: a master stuck on a dead pool must not keep the cluster from being removed.
    await Promise.race([master?.stop(), new Promise((r) => setTimeout(r, 20_000))]).catch(() => {});
    await pg?.remove();
    process.off('unhandledRejection', onUnhandled);
    process.off('uncaughtException', onUnhandled);
  });

  it('survives a fast restart between builds: clean 5xx at most, then builds run on and numbers continue', async () => {
    const before = await forceAndWait(master, 'quick');
    expect(before.build).toMatchObject({ number: 1, result: 'success', complete: true });

    // Ask the API all through the restart: each answer is a 200 or a clean 5xx JSON error.
    const t = Date.now();
    let restarted = false;
    const restarting = pg.restart({ mode: 'fast' }).finally(() => (restarted = true));
    const during: Reply[] = [];
    while (!restarted) {
      const r = await get(master, '/builders');
      if (r.status !== 200) {
        expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(500);
        expect(r.body.error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
      }
      during.push(r);
      await new Promise((r) => setTimeout(r, 50));
    }
    await restarting;
    const { failures } = await untilOk(master, '/builders');
    const codes = (rs: Reply[]) =>
      [...new Set(rs.map((r) => (r.status === 200 ? '200' : `${r.status} ${r.body.error.code}`)))].join(', ') || 'none';
    console.info(
      `[postgres-restart] fast restart took ${Date.now() - t} ms; during it GET /builders answered ${during.length}x (${codes(during)}); after it ${failures.length} failures before a 200 (${codes(failures)}); master log: ${JSON.stringify(errorsSince(t))}`,
    );

    const after = await forceAndWait(master, 'quick');
    expect(after.build).toMatchObject({ number: 2, result: 'success', complete: true, builderid: before.build.builderid });
    expect(after.build.complete_at).not.toBeNull();
    expect((await stepLog(master, after.steps[0].stepid)).toString()).toBe('build 2\n');
    // The build before the restart is still there, log and all.
    expect((await stepLog(master, before.steps[0].stepid)).toString()).toBe('build 1\n');
    expect(unhandled).toEqual([]);
  }, 60_000);

  // Expected outcome: EXCEPTION when storing output failed while the database was away (the command is
  // cancelled, the step's log cannot be finished), or SUCCESS when the pool reconnected in time for every
  // write. Either way the build must be complete, with complete_at, and its request complete.
  //
  // This once left the build "running" for good: the writes that end a step and a build gave up at
  // the first failure. They are now retried through the outage (core/retry.ts, transient errors only).
  it('survives PostgreSQL killed (immediate) and restarted during a build: the build completes (EXCEPTION or SUCCESS)', async () => {
    const client = api(master);
    const started = new Map<number, number>(); // buildrequestid -> buildid
    let lines = 0;
    const offStarted = master.events.subscribe('build.started', (e) => void started.set(e.buildrequestid, e.buildid));
    const offLog = master.events.subscribe('log.appended', (e) => {
      lines += e.data.toString().split('\n').length - 1;
    });
    try {
      const forced = await client.post('/builders/chatty/force', { reason: 'postgres will die under me' });
      expect(forced.status).toBe(202);
      const brid = forced.body.buildrequestid as number;
      const buildid = await waitFor('the chatty build to start', () => started.get(brid), 20_000);
      // Some output stored: the command is well under way.
      await waitFor('the chatty build to store 5 lines', () => lines >= 5, 20_000);

      const t = Date.now();
      await pg.restart({ mode: 'immediate' });
      const downMs = Date.now() - t;

      // The master answers throughout; the request completes (20 s: well past the command's 4 s).
      let request: any = null;
      const deadline = Date.now() + 20_000;
      for (;;) {
        const { ok } = await untilOk(master, `/buildrequests/${brid}`);
        request = ok.body.buildrequests[0];
        if (request.complete) break;
        if (Date.now() > deadline) {
          const build = (await untilOk(master, `/builds/${buildid}`)).ok.body.builds[0];
          const steps = (await untilOk(master, `/builds/${buildid}/steps`)).ok.body.steps;
          const stop = await client.post(`/builds/${buildid}/stop`, { reason: 'stuck' });
          throw new Error(
            `build request ${brid} still incomplete 20 s after PostgreSQL came back (it was down ${downMs} ms).\nrequest: ${JSON.stringify(request)}\nbuild: ${JSON.stringify(build)}\nsteps: ${JSON.stringify(steps)}\nstill in master.running: ${internalsOf(master).running.get(buildid) !== undefined}\nPOST /builds/${buildid}/stop: ${stop.status} ${JSON.stringify(stop.body)}\nmaster log: ${JSON.stringify(errorsSince(t), null, 1)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }

      const build = (await untilOk(master, `/builds/${buildid}`)).ok.body.builds[0];
      const steps = (await untilOk(master, `/builds/${buildid}/steps`)).ok.body.steps;
      console.info(
        `[postgres-restart] immediate restart during a build (server down ${downMs} ms, ${lines} lines stored before): build ${build.number} ${build.result} "${build.state_string}", step ${steps[0]?.result} "${steps[0]?.state_string}"; master log: ${JSON.stringify(errorsSince(t))}`,
      );
      expect(['exception', 'success']).toContain(build.result);
      expect(build.complete).toBe(true);
      expect(build.complete_at).not.toBeNull();
      expect(request).toMatchObject({ complete: true, result: build.result });
      expect(steps.length).toBe(1);
      expect(steps[0].complete).toBe(true);
      expect(internalsOf(master).running.size).toBe(0);
      if (build.result === 'success') expect((await stepLog(master, steps[0].stepid)).toString().split('\n').length).toBe(41);
    } finally {
      offStarted();
      offLog();
    }
  }, 60_000);

  it('after PostgreSQL died during a build: no unhandled rejection, the API answers, a new build succeeds and numbers continue', async () => {
    expect((await untilOk(master, '/builders')).ok.body.builders.map((b: { name: string }) => b.name)).toEqual(['quick', 'chatty']);
    const next = await forceAndWait(master, 'quick');
    expect(next.build).toMatchObject({ number: 3, result: 'success', complete: true });
    expect(next.build.complete_at).not.toBeNull();
    expect((await stepLog(master, next.steps[0].stepid)).toString()).toBe('build 3\n');
    expect(agent.child.exitCode).toBeNull();
    expect(unhandled).toEqual([]);
  }, 60_000);

  it('keeps metric points captured while PostgreSQL is stopped and stores each once when it is back', async () => {
    const count = async () =>
      Number(
        (
          (await internalsOf(master).db.source.query("SELECT COUNT(*) AS n FROM metric_points WHERE series = 'outage_probe'")) as {
            n: string;
          }[]
        )[0]?.n,
      );
    await master.metrics.captureData('outage_probe', 1, { tags: { builder: 'quick' } });
    await master.metrics.flush();
    expect(await count()).toBe(1);

    await pg.stop({ mode: 'fast' });
    const t = Date.now();
    for (let i = 2; i <= 6; i++) await master.metrics.captureData('outage_probe', i, { tags: { builder: 'quick' } });
    await master.metrics.flush(); // the insert fails: the points wait in memory
    await new Promise((r) => setTimeout(r, 1500)); // and at least one retry fails too
    await pg.start();

    await waitFor('the waiting points to be stored', async () => (await count().catch(() => 0)) === 6, 45_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await count()).toBe(6);
    const values = (await internalsOf(master).db.source.query(
      "SELECT value FROM metric_points WHERE series = 'outage_probe' ORDER BY id",
    )) as {
      value: number;
    }[];
    expect(values.map((v) => Number(v.value))).toEqual([1, 2, 3, 4, 5, 6]);
    const messages = errorsSince(t).join('\n');
    expect(messages).toContain('metric points wait in memory');
    expect(messages).not.toContain('dropped');
    expect(unhandled).toEqual([]);
  }, 90_000);
});
