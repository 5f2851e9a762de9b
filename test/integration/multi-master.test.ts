/**
 * Two masters on one PostgreSQL database, the agent connected to only one of them (B): the web UI's
 * live stream on the other (A) shows B's builds and log output (LISTEN/NOTIFY), a stop sent to A
 * reaches the build B runs, and each master's Prometheus counts only its own builds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { ConfigInput } from '../../master/config/schema.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { internalsOf } from '../../master/testing.ts';

const TOKEN = 'multi-master-token';
const pgDb = testDatabases().find((d) => d.kind === 'postgres');

interface LiveMessage {
  type: string;
  event: string;
  data: Record<string, any>;
}

/** A /ws client that keeps every message it receives. */
async function liveClient(master: RunningMaster): Promise<{ ws: WebSocket; seen: LiveMessage[]; subscribe(logs: number[]): void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${master.port}/ws`);
  const seen: LiveMessage[] = [];
  ws.on('message', (d) => seen.push(JSON.parse(d.toString()) as LiveMessage));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, seen, subscribe: (logs) => ws.send(JSON.stringify({ type: 'subscribe', logs })) };
}

describe.skipIf(!pgDb)('two masters sharing PostgreSQL', () => {
  let a: RunningMaster;
  let b: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    const url = await (pgDb as { create(): Promise<string> }).create();
    const config = (): ConfigInput => ({
      agents: [{ name: 'b1', token: TOKEN, maxBuilds: 2 }],
      builders: [
        {
          name: 'talk',
          factory: new BuildFactory().addStep(new ShellCommand({ name: 'say', command: 'sleep 1; echo one; sleep 1; echo two' })),
        },
        {
          name: 'big',
          factory: new BuildFactory().addStep(
            new ShellCommand({ name: 'dump', command: "sleep 1; head -c 5000 /dev/zero | tr '\\0' '\\n'; sleep 0.5" }),
          ),
        },
        { name: 'long', factory: new BuildFactory().addStep(new ShellCommand({ name: 'wait', command: ['sleep', '30.5'] })) },
      ],
    });
    a = await startTestMaster(config(), url, `master-a-${process.pid}`);
    b = await startTestMaster(config(), url, `master-b-${process.pid}`);
    agent = await startAgent(b, 'b1', TOKEN);
  });

  afterAll(async () => {
    await agent?.kill();
    await a?.stop();
    await b?.stop();
  });

  /** Forces `builder` through A's API and follows the step on A's live stream, subscribing to its log once it starts. */
  async function followOnA(builder: string) {
    const live = await liveClient(a);
    const forced = await api(a).post(`/builders/${builder}/force`, {});
    expect(forced.status).toBe(202);
    const started = await waitFor('build.started from master B on A', () =>
      live.seen.find((m) => m.event === 'build.started' && m.data.buildrequestid === forced.body.buildrequestid),
    );
    const buildid = started.data.buildid as number;
    const step = await waitFor('step.started on A', () => live.seen.find((m) => m.event === 'step.started' && m.data.buildid === buildid));
    const logs = (await api(a).get(`/steps/${step.data.stepid}/logs`)).body.logs as { logid: number }[];
    live.subscribe(logs.map((l) => l.logid));
    return { live, buildid, logid: logs[0]?.logid as number };
  }

  it("streams master B's builds and log lines to a client of master A", async () => {
    const { live, buildid, logid } = await followOnA('talk');
    await waitFor('build.finished on A', () => live.seen.find((m) => m.event === 'build.finished' && m.data.buildid === buildid), 20_000);
    const text = live.seen
      .filter((m) => m.event === 'log.appended' && m.data.logid === logid)
      .map((m) => m.data.text as string)
      .join('');
    expect(text).toContain('two\n');
    expect((await api(a).get(`/builds/${buildid}`)).body.builds[0]).toMatchObject({ result: 'success', agent: 'b1' });
    live.ws.close();
  });

  it('sends a log chunk too big for a notification once JSON-escaped (5000 newlines) as a gap', async () => {
    const { live, buildid, logid } = await followOnA('big');
    await waitFor('build.finished on A', () => live.seen.find((m) => m.event === 'build.finished' && m.data.buildid === buildid), 20_000);
    expect(live.seen.some((m) => m.event === 'log.gap' && m.data.logid === logid)).toBe(true);
    live.ws.close();
  });

  it('stops through master A a build that master B runs', async () => {
    const { live, buildid } = await followOnA('long');
    const stop = await api(a).post(`/builds/${buildid}/stop`, { reason: 'from A' });
    expect(stop.status).toBe(202);
    const finished = await waitFor(
      'the stopped build to finish',
      () => live.seen.find((m) => m.event === 'build.finished' && m.data.buildid === buildid),
      20_000,
    );
    expect(finished.data.results).toBe(6); // CANCELLED
    live.ws.close();
  });

  it('ignores malformed notifications on the channel, and keeps hearing the other master', async () => {
    const junk = [
      'null',
      '{}',
      'not json',
      JSON.stringify({ origin: 'x', event: { name: 'build.stop' } }),
      JSON.stringify({ origin: 'x', event: { name: 'log.appended', data: null } }),
    ];
    for (const payload of junk) await internalsOf(a).db.source.query('SELECT pg_notify($1, $2)', ['caliper_events', payload]);
    const { live, buildid } = await followOnA('talk');
    await waitFor('build.finished on A', () => live.seen.find((m) => m.event === 'build.finished' && m.data.buildid === buildid), 20_000);
    live.ws.close();
  });

  it('counts builds in Prometheus only on the master that ran them', async () => {
    const metrics = async (m: RunningMaster) => (await fetch(`${m.url}/metrics`)).text();
    expect(await metrics(b)).toMatch(/caliper_builds_total\{builder="talk",result="success"\} 2/);
    expect(await metrics(a)).not.toMatch(/caliper_builds_total\{builder="talk"/);
  });
});
