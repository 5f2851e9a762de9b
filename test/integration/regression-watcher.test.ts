/**
 * The regression watcher on a real master with real agent processes (SQLite and PostgreSQL): a
 * builder whose measured values step up by 10 % gets one stored change point with the right builds
 * on either side, counted in Prometheus and alerted in ONE mail listing every series that regressed;
 * a restarted master does not store it again; confirming reruns confirm a real step and dismiss a
 * one-off; and two masters sharing PostgreSQL store a change once.
 *
 * Each build measures the values the test wrote beforehand for its build number (a file per build),
 * so a rerun requested by the master while the test runs measures what the test meant it to.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { BuildFactory, MeasureShellCommand, interpolate, mailNotifier } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import type { NextAgent } from '../../master/scheduler/queue-hooks.ts';
import { compileConfig } from '../../master/config/compile.ts';
import type { ChangePointRecord, Page } from '../../protocol/api-types.ts';
import { internalsOf } from '../../master/testing.ts';
import { ChangePointsRepo } from '../../master/db/change-points.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';

const PUBLIC_URL = 'http://ci.example.test/';

/** A relay on 127.0.0.1 that keeps every mail it gets. */
function startRelay(received: ParsedMail[]): Promise<{ server: SMTPServer; port: number }> {
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        simpleParser(Buffer.concat(chunks))
          .then((mail) => {
            received.push(mail);
            callback();
          })
          .catch((e: unknown) => callback(e instanceof Error ? e : new Error(String(e))));
      });
    },
  });
  server.on('error', () => {});
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

/** The values each build number of a builder measures: `bench_ms` and `bench_kb`, lightly noisy. */
function writeValues(dir: string, builder: string, numbers: number[], level: (n: number) => number): void {
  for (const n of numbers) {
    const noise = (n % 3) * 0.005;
    const l = level(n);
    fs.writeFileSync(
      path.join(dir, `${builder}-${n}`),
      `bench_ms=${(100 * l * (1 + noise)).toFixed(3)}\nbench_kb=${(2000 * l * (1 + noise)).toFixed(1)}\n`,
    );
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function measuring(dir: string, builder: string) {
  return new BuildFactory().addStep(
    new MeasureShellCommand({
      name: 'measure',
      keys: ['bench_ms', 'bench_kb'],
      kind: 'duration',
      command: ['cat', interpolate(`${dir}/${builder}-%(prop:buildnumber)s`)],
    }),
  );
}

function config(dir: string, smtpPort: number, agents: string[] = ['a1']): ConfigInput {
  return {
    agents: ['a1', 'a2'].map((name) => ({ name, token: `${name}-token` })),
    web: { publicUrl: PUBLIC_URL },
    metrics: { trackBuildTimes: false },
    builders: [
      { name: 'step', agents, factory: measuring(dir, 'step') },
      { name: 'holds', agents, factory: measuring(dir, 'holds'), confirm: { reruns: 2 } },
      { name: 'oneoff', agents, factory: measuring(dir, 'oneoff'), confirm: { reruns: 2, agent: 'same' } },
      { name: 'elsewhere', agents: ['a1', 'a2'], factory: measuring(dir, 'elsewhere'), confirm: { reruns: 1, agent: 'other' } },
    ],
    services: [
      mailNotifier({
        smtp: { host: '127.0.0.1', port: smtpPort },
        from: 'ci@example.test',
        to: 'perf@example.test',
        mode: 'failing',
        regressions: true,
      }),
    ],
  };
}

async function changePoints(master: RunningMaster, query: string): Promise<ChangePointRecord[]> {
  const res = await api(master).get<Page<'changepoints'>>(`/changepoints?${query}`);
  expect(res.status).toBe(200);
  return res.body.changepoints;
}

const regressionMails = (mails: ParsedMail[], builder: string) =>
  mails.filter((m) => m.headers.get('x-caliper-event') === 'build.regressed' && m.headers.get('x-caliper-builder') === builder);

describe.each(testDatabases())('regression watcher on $kind', (db) => {
  const mails: ParsedMail[] = [];
  let relay: { server: SMTPServer; port: number };
  let dir: string;
  let dbUrl: string;
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    relay = await startRelay(mails);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-watch-'));
    dbUrl = await db.create();
    master = await startTestMaster(config(dir, relay.port), dbUrl);
    agent = await startAgent(master, 'a1', 'a1-token');
  });
  afterAll(async () => {
    await master?.stop();
    await agent?.kill();
    await new Promise<void>((resolve) => relay?.server.close(() => resolve()));
  });

  it('stores one change point for a 10 % step, with the builds on either side, counts it and sends one mail listing both series', async () => {
    writeValues(dir, 'step', range(1, 20), (n) => (n <= 8 ? 1 : 1.1));
    const builds: number[] = [];
    for (let n = 1; n <= 12; n++) builds.push((await forceAndWait(master, 'step')).build.buildid as number);

    const found = await changePoints(master, 'builder=step&series=bench_ms');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({
      series: 'bench_ms',
      tags: { builder: 'step', step: 'measure' },
      builder: 'step',
      before: { buildid: builds[7] },
      after: { buildid: builds[8] },
      direction: 'worse',
      state: 'confirmed',
      reruns: 0,
      detected_by: builds[10],
    });
    expect(found[0]?.magnitude_percent).toBeCloseTo(10, 0);
    expect(found[0]?.p_value).toBeLessThan(1e-6);
    const one = await api(master).get<Page<'changepoints'>>(`/changepoints/${found[0]?.changepointid}`);
    expect(one.body.changepoints[0]).toEqual(found[0]);
    expect(await changePoints(master, 'builder=step&series=bench_kb')).toHaveLength(1);

    const mail = await waitFor('the regression mail', () => regressionMails(mails, 'step')[0]);
    expect(mail.subject).toMatch(/2 series regressed in step #11/);
    expect(mail.text).toMatch(
      /bench_ms \[step=measure\]: 100\.\d+ → 110\.\d+ \(\+(9\.\d|10\.\d) %, p=.*\), between build \d+ and build \d+/,
    );
    expect(mail.text).toMatch(/bench_kb \[step=measure\]: 20\d\d(\.\d+)? → 22\d\d(\.\d+)? \(\+(9\.\d|10\.\d) %/);
    expect(mail.text).toContain(`${PUBLIC_URL}#/metrics?series=bench_ms&builder=step&step=measure`);
    expect(mail.text).toContain(`${PUBLIC_URL}#/builds/${builds[8]}`);

    const text = await (await fetch(`${master.url}/metrics`)).text();
    expect(text).toMatch(/caliper_change_points_total\{direction="worse",state="confirmed"\} [2-9]/);
    expect(text).toMatch(/caliper_open_regressions [2-9]/);

    // Bad filters are refused with the field named.
    const bad = await api(master).get('/changepoints?direction=slower');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/direction must be one of better, worse/);
    expect((await api(master).get('/changepoints/999999')).status).toBe(404);
    expect((await api(master).get('/changepoints?builder=nope')).status).toBe(404);
  });

  it('a restarted master does not store the change again, and a second insert of it is refused', async () => {
    await master.stop();
    await agent.kill();
    master = await startTestMaster(config(dir, relay.port), dbUrl);
    agent = await startAgent(master, 'a1', 'a1-token');
    await forceAndWait(master, 'step');
    await forceAndWait(master, 'step');
    const stored = await changePoints(master, 'builder=step&series=bench_ms');
    expect(stored).toHaveLength(1);
    const repo = new ChangePointsRepo(internalsOf(master).db.source);
    const row = await repo.get(stored[0]?.changepointid ?? 0);
    if (!row) throw new Error('stored change point not found');
    const { id: _id, tags: _tags, alerted: _alerted, ...again } = row;
    expect(await repo.insert(again)).toBeNull();
    expect(regressionMails(mails, 'step')).toHaveLength(1);
  });

  it('confirming reruns confirm a step that holds and dismiss a one-off', async () => {
    // Builds 12 and 13 of each are its two reruns (of build 9's source): they measure 110 % for
    // `holds`, and 100 % again for `oneoff`.
    writeValues(dir, 'holds', range(1, 20), (n) => (n <= 8 ? 1 : 1.1));
    writeValues(dir, 'oneoff', range(1, 20), (n) => (n <= 8 || n >= 12 ? 1 : 1.1));
    for (let n = 1; n <= 11; n++) {
      await forceAndWait(master, 'holds');
      await forceAndWait(master, 'oneoff');
    }
    const decided = async (builder: string, state: string) =>
      waitFor(`${builder}'s change to be ${state}`, async () => {
        const rows = await changePoints(master, `builder=${builder}&series=bench_ms`);
        return rows.length === 1 && rows[0]?.state === state ? rows[0] : null;
      });
    const held = await decided('holds', 'confirmed');
    expect(held).toMatchObject({ reruns: 2, direction: 'worse' });
    expect(held.rerun_values).toHaveLength(2);
    for (const v of held.rerun_values) expect(v).toBeGreaterThan(108);
    const gone = await decided('oneoff', 'dismissed');
    expect(gone.rerun_values).toHaveLength(2);
    for (const v of gone.rerun_values) expect(v).toBeLessThan(102);

    // The reruns asked for the change's source, said why, and ran where `agent` said.
    // One set of reruns for both series the build regressed, named by the first of their change points.
    const ofBuild = (await changePoints(master, `builder=oneoff&detected_by=${gone.detected_by}`)).map((c) => c.changepointid);
    expect(ofBuild).toHaveLength(2);
    const reruns = (await api(master).get(`/builds?builderid=${gone.builderid}&order=-buildid`)).body.builds.filter(
      (b: { number: number }) => b.number >= 12,
    );
    expect(reruns).toHaveLength(2);
    const named = Math.min(...ofBuild);
    for (const b of reruns) {
      const props = (await api(master).get(`/builds/${b.buildid}`)).body.builds[0].properties;
      expect(props.confirming[0]).toBe(named);
      expect(props.confirming_agent[0]).toBe('a1');
    }
    const request = (await api(master).get(`/buildrequests/${reruns[0].buildrequestid}`)).body.buildrequests[0];
    expect(request.reason).toBe(`confirming change point #${named}`);

    // One mail for the change that held, none for the one-off.
    await waitFor('the mail of the confirmed change', () => regressionMails(mails, 'holds')[0]);
    expect(regressionMails(mails, 'holds')).toHaveLength(1);
    expect(regressionMails(mails, 'oneoff')).toHaveLength(0);
    const text = await (await fetch(`${master.url}/metrics`)).text();
    expect(text).toMatch(/caliper_change_points_total\{direction="worse",state="dismissed"\} [2-9]/);
  });

  // Which agent a rerun goes to is the claimer's gate, not the database's: SQLite only, for CI's time.
  it.runIf(db.kind === 'sqlite')("runs a rerun with `agent: 'other'` on another agent than the build after the change", async () => {
    // Only a1 is connected while the builds run; the rerun may not take a1, so it waits for a2.
    writeValues(dir, 'elsewhere', range(1, 20), (n) => (n <= 8 ? 1 : 1.1));
    for (let n = 1; n <= 11; n++) await forceAndWait(master, 'elsewhere');
    const [change] = await changePoints(master, 'builder=elsewhere&series=bench_ms');
    expect(change).toMatchObject({ state: 'confirming', reruns: 1 });
    const queued = (await api(master).get('/buildrequests?complete=false')).body.buildrequests;
    expect(queued.some((r: { reason: string }) => r.reason.startsWith('confirming change point #'))).toBe(true);
    const a2 = await startAgent(master, 'a2', 'a2-token');
    try {
      const held = await waitFor('the rerun to confirm it', async () => {
        const [c] = await changePoints(master, 'builder=elsewhere&series=bench_ms');
        return c?.state === 'confirmed' ? c : null;
      });
      expect(held.rerun_values).toHaveLength(1);
      const [rerun] = (await api(master).get(`/builds?builderid=${held.builderid}&order=-buildid&limit=1`)).body.builds;
      expect(rerun).toMatchObject({ number: 12, agent: 'a2' });
    } finally {
      await a2.kill();
    }
  });
});

describe('the confirm option', () => {
  it('is refused with its path and the rule when it is not a count of reruns and an agent rule', () => {
    const builder = (confirm: unknown) => ({ name: 'b', agents: ['a1'], factory: measuring('/tmp', 'b'), confirm });
    const compile = (confirm: unknown) => () =>
      compileConfig({ agents: [{ name: 'a1', token: 'a1-token' }], builders: [builder(confirm)] } as ConfigInput);
    expect(compile({ reruns: 0 })).toThrow(/builders\[0\]\.confirm\.reruns: must be at least 1/);
    expect(compile({ reruns: 2.5 })).toThrow(/builders\[0\]\.confirm\.reruns: must be a whole number of reruns/);
    expect(compile({ reruns: 2, agent: 'any' })).toThrow(/builders\[0\]\.confirm\.agent: must be "same" or "other"/);
    expect(compile({ reruns: 2, on: 'a1' })).toThrow(/builders\[0\]\.confirm.*on/);
    expect(compile({ reruns: 3, agent: 'other' })).not.toThrow();
  });
});

const pgUrl = process.env.CALIPER_TEST_PG_URL;
describe.skipIf(!pgUrl)('regression watcher on two masters sharing PostgreSQL', () => {
  it('stores a change once, whichever master ran the builds around it', async () => {
    const db = testDatabases().find((d) => d.kind === 'postgres');
    if (!db) throw new Error('no PostgreSQL');
    const dbUrl = await db.create();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-watch2-'));
    const mails: ParsedMail[] = [];
    const relay = await startRelay(mails);
    const shared = (): ConfigInput => {
      const c = config(dir, relay.port, ['a1', 'a2']);
      // Each build runs on the agent its force asks for: a1 is A's, a2 is B's.
      const onAgent: NextAgent = (_builder, agents, request) => agents.find((x) => x.name === request.properties.on) ?? null;
      const builders = (c.builders ?? []).map((b) => (b.name === 'step' ? { ...b, nextAgent: onAgent } : b));
      return { ...c, builders };
    };
    const a = await startTestMaster(shared(), dbUrl, 'master-a');
    const b = await startTestMaster(shared(), dbUrl, 'master-b');
    const agents = [await startAgent(a, 'a1', 'a1-token'), await startAgent(b, 'a2', 'a2-token')];
    try {
      writeValues(dir, 'step', range(1, 20), (n) => (n <= 8 ? 1 : 1.1));
      const ran: number[] = [];
      for (let n = 1; n <= 13; n++) {
        const { build } = await forceAndWait(a, 'step', { properties: { on: n % 2 === 0 ? 'a1' : 'a2' } });
        ran.push(build.masterid as number);
      }
      expect(new Set(ran).size).toBe(2);
      const stored = await waitFor('the change point', async () => {
        const rows = await changePoints(a, 'builder=step&series=bench_ms');
        return rows.length > 0 ? rows : null;
      });
      await new Promise((r) => setTimeout(r, 500)); // a second store, if there were one, would land meanwhile
      expect(await changePoints(b, 'builder=step&series=bench_ms')).toHaveLength(1);
      expect(stored[0]?.after.buildid).toBeGreaterThan(0);
      await waitFor('the regression mail', () => regressionMails(mails, 'step')[0]);
      await new Promise((r) => setTimeout(r, 500));
      expect(regressionMails(mails, 'step')).toHaveLength(1);
    } finally {
      await a.stop();
      await b.stop();
      for (const ag of agents) await ag.kill();
      await new Promise<void>((resolve) => relay.server.close(() => resolve()));
    }
  });
});
