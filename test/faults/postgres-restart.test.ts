/**
 * PostgreSQL restarts under a running master: between builds (a clean, fast restart), during one
 * (every server process killed at once, then crash recovery: during a step's output, and between
 * steps), and stopped for 15 s while a step prints (a burst past the agent's window among it). The
 * master must stay up, its API must answer with clean JSON errors while the database is away, and a
 * build the database blinked under must go on: SUCCESS, every step SUCCESS, its log byte-identical to
 * what the command printed (the master holds the output unacknowledged and retries; the agent keeps it).
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
import { decodeLogChunk } from '../../master/db/log-codec.ts';
import { quietPort } from '../helpers/ports.ts';

const PORT = quietPort(100);

const STEPWISE_STEPS = 40;
const LONG_LINES = 100;
const LONG_BURST = 1_500_000; // about 11 MB
/** How long the server stays stopped in the outage case (it runs in CI on 2 cores: one such wait). */
const OUTAGE_MS = 15_000;

const chattyOutput = () => Buffer.from(Array.from({ length: 40 }, (_, i) => `line ${i + 1}\n`).join(''));
function longOutput(): Buffer {
  const parts: string[] = [];
  for (let i = 1; i <= LONG_LINES; i++) parts.push(`long line ${i}\n`);
  for (let i = 1; i <= LONG_BURST; i++) parts.push(`${i}\n`);
  parts.push('the end, no newline');
  return Buffer.from(parts.join(''));
}

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
    // Many short steps: a restart lands on the writes between commands (a step's row, the build's
    // state string, a log's row), not only on output.
    {
      name: 'stepwise',
      factory: Array.from({ length: STEPWISE_STEPS }, (_, i) => i + 1).reduce(
        (f, i) => f.addStep(new ShellCommand({ name: `step-${i}`, command: `echo "step ${i} of ${STEPWISE_STEPS}"` })),
        new BuildFactory(),
      ),
    },
    // About 10 s of lines, then a burst past the agent's 8 MiB window, then a last line without its
    // newline: the database stays away through most of it.
    {
      name: 'long',
      factory: new BuildFactory().addStep(
        new ShellCommand({
          name: 'talk',
          command: `for i in $(seq 1 ${LONG_LINES}); do echo "long line $i"; sleep 0.1; done; seq 1 ${LONG_BURST}; printf 'the end, no newline'`,
        }),
      ),
    },
  ],
});

/** Byte-exact, with a readable message (not an 11 MB diff) when not. */
function expectSameBytes(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return;
  let at = 0;
  while (at < actual.length && at < expected.length && actual[at] === expected[at]) at++;
  const around = (b: Buffer) => JSON.stringify(b.subarray(Math.max(0, at - 40), at + 40).toString());
  throw new Error(
    `${what}: ${actual.length} bytes stored, ${expected.length} printed; first difference at byte ${at}: stored ${around(actual)}, printed ${around(expected)}`,
  );
}

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

interface StepView {
  stepid: number;
  name: string;
  result: string;
  complete: boolean;
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

  /**
   * Forces `builder`, waits until `storedLines` lines of its output are stored, runs `outage` (the
   * database goes away and comes back), then waits for the request to complete (`timeoutMs` after the
   * outage ended). Returns the build, its steps and what the outage took.
   */
  async function buildThroughOutage(builder: string, storedLines: number, outage: () => Promise<void>, timeoutMs = 60_000) {
    const client = api(master);
    const started = new Map<number, number>(); // buildrequestid -> buildid
    let lines = 0;
    const offStarted = master.events.subscribe('build.started', (e) => void started.set(e.buildrequestid, e.buildid));
    const offLog = master.events.subscribe('log.appended', (e) => {
      lines += e.data.toString().split('\n').length - 1;
    });
    try {
      const forced = await client.post(`/builders/${builder}/force`, { reason: 'postgres will go away under me' });
      expect(forced.status).toBe(202);
      const brid: number = forced.body.buildrequestid;
      const buildid = await waitFor(`the ${builder} build to start`, () => started.get(brid), 20_000);
      // Some output stored: the build is well under way.
      await waitFor(`the ${builder} build to store ${storedLines} lines`, () => lines >= storedLines, 20_000);

      const t = Date.now();
      const linesBefore = lines;
      await outage();
      const downMs = Date.now() - t;

      // The master answers throughout; the request completes.
      let request: any = null;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { ok } = await untilOk(master, `/buildrequests/${brid}`);
        request = ok.body.buildrequests[0];
        if (request.complete) break;
        if (Date.now() > deadline) {
          const build = (await untilOk(master, `/builds/${buildid}`)).ok.body.builds[0];
          const steps = (await untilOk(master, `/builds/${buildid}/steps`)).ok.body.steps;
          const stop = await client.post(`/builds/${buildid}/stop`, { reason: 'stuck' });
          throw new Error(
            `build request ${brid} still incomplete ${timeoutMs} ms after PostgreSQL came back (it was down ${downMs} ms).\nrequest: ${JSON.stringify(request)}\nbuild: ${JSON.stringify(build)}\nsteps: ${JSON.stringify(steps)}\nstill in master.running: ${internalsOf(master).running.get(buildid) !== undefined}\nPOST /builds/${buildid}/stop: ${stop.status} ${JSON.stringify(stop.body)}\nmaster log: ${JSON.stringify(errorsSince(t), null, 1)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }

      const build = (await untilOk(master, `/builds/${buildid}`)).ok.body.builds[0];
      const steps: StepView[] = (await untilOk(master, `/builds/${buildid}/steps`)).ok.body.steps;
      console.info(
        `[postgres-restart] ${builder}: server down ${downMs} ms (${linesBefore} lines stored before): build ${build.number} ${build.result} "${build.state_string}", steps ${[...new Set(steps.map((s) => s.result))].join(', ')}; master log: ${JSON.stringify(errorsSince(t)).slice(0, 3000)}`,
      );
      expect(build, `master log: ${JSON.stringify(errorsSince(t))}`).toMatchObject({ result: 'success', complete: true });
      expect(build.complete_at).not.toBeNull();
      expect(request).toMatchObject({ complete: true, result: 'success' });
      expect(internalsOf(master).running.size).toBe(0);
      return { build, steps, downMs, linesBefore };
    } finally {
      offStarted();
      offLog();
    }
  }

  // This once left the build "running" for good (the writes that end a step and a build gave up at
  // the first failure), then ended it EXCEPTION (storing output failed: the command was cancelled).
  // Now the output is held unacknowledged while the log writer retries, and the build goes on.
  it('survives PostgreSQL killed (immediate) and restarted during a build: SUCCESS, the log byte-identical', async () => {
    const { steps } = await buildThroughOutage('chatty', 5, () => pg.restart({ mode: 'immediate' }).then(() => undefined));
    expect(steps.map((s) => [s.name, s.result, s.complete])).toEqual([['talk', 'success', true]]);
    expectSameBytes(await stepLog(master, steps[0]!.stepid), chattyOutput(), "the talk step's log");
  }, 60_000);

  it('survives PostgreSQL killed (immediate) and restarted between the steps of a build: every step SUCCESS, every log exact', async () => {
    const { steps } = await buildThroughOutage('stepwise', 3, () => pg.restart({ mode: 'immediate' }).then(() => undefined));
    expect(steps.map((s) => [s.name, s.result, s.complete])).toEqual(
      Array.from({ length: STEPWISE_STEPS }, (_, i) => [`step-${i + 1}`, 'success', true]),
    );
    for (const [i, step] of steps.entries())
      expectSameBytes(await stepLog(master, step.stepid), Buffer.from(`step ${i + 1} of ${STEPWISE_STEPS}\n`), `${step.name}'s log`);
  }, 60_000);

  it(`survives PostgreSQL stopped (fast) for ${OUTAGE_MS / 1000} s during a build: SUCCESS, the agent held its output, the log byte-identical`, async () => {
    const { steps, downMs, linesBefore } = await buildThroughOutage('long', 5, async () => {
      await pg.stop({ mode: 'fast' });
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      await pg.start();
    });
    expect(downMs).toBeGreaterThanOrEqual(OUTAGE_MS);
    // The database went away early: nearly all the output (the burst too) came while it was away.
    expect(linesBefore).toBeLessThan(LONG_LINES);
    expect(steps.map((s) => [s.name, s.result, s.complete])).toEqual([['talk', 'success', true]]);
    expectSameBytes(await stepLog(master, steps[0]!.stepid), longOutput(), "the talk step's log");
    // Nothing was written twice: the chunks, decoded (they may be stored compressed), are exactly the log's bytes.
    const stored: { codec: string; content: Buffer }[] = await internalsOf(master).db.source.query(
      'SELECT c.codec, c.content FROM logchunks c JOIN logs l ON l.id = c.logid WHERE l.stepid = $1',
      [steps[0]!.stepid],
    );
    const decoded = await Promise.all(stored.map((c) => decodeLogChunk(c.codec, c.content, 'a chunk of the talk log')));
    expect(decoded.reduce((n, b) => n + b.length, 0)).toBe(longOutput().length);
  }, 120_000);

  it('after PostgreSQL died during a build: no unhandled rejection, the API answers, a new build succeeds and numbers continue', async () => {
    expect((await untilOk(master, '/builders')).ok.body.builders.map((b: { name: string }) => b.name)).toEqual([
      'quick',
      'chatty',
      'stepwise',
      'long',
    ]);
    const next = await forceAndWait(master, 'quick');
    expect(next.build).toMatchObject({ number: 3, result: 'success', complete: true });
    expect(next.build.complete_at).not.toBeNull();
    expect((await stepLog(master, next.steps[0].stepid)).toString()).toBe('build 3\n');
    expect(agent.child.exitCode).toBeNull();
    expect(unhandled).toEqual([]);
  }, 60_000);

  it('keeps metric points captured while PostgreSQL is stopped and stores each once when it is back', async () => {
    const count = async () => {
      const rows: { n: string }[] = await internalsOf(master).db.source.query(
        "SELECT COUNT(*) AS n FROM metric_points WHERE series = 'outage_probe'",
      );
      return Number(rows[0]?.n);
    };
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
    const values: { value: number }[] = await internalsOf(master).db.source.query(
      "SELECT value FROM metric_points WHERE series = 'outage_probe' ORDER BY id",
    );
    expect(values.map((v) => Number(v.value))).toEqual([1, 2, 3, 4, 5, 6]);
    const messages = errorsSince(t).join('\n');
    expect(messages).toContain('metric points wait in memory');
    expect(messages).not.toContain('dropped');
    expect(unhandled).toEqual([]);
  }, 90_000);
});
