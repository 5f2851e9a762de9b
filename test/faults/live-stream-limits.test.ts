/**
 * `/ws` against hostile clients (issue 17, defect 4): many clients that follow a busy log and never
 * read, and more clients than the master takes. The master's memory stays bounded, the slow clients
 * are dropped and forgotten, and the build neither fails nor loses output.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { BuildFactory, ShellCommand } from '../../index.ts';
import { liveStreamDefaults } from '../../master/api/live-stream.ts';
import { internalsOf } from '../../master/testing.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startAgent, startTestMaster, stepLog, waitFor, waitForRequest } from '../helpers/harness.ts';

const sqlite = testDatabases().find((d) => d.kind === 'sqlite');
if (!sqlite) throw new Error('no SQLite test database');
const MiB = 1024 * 1024;
const SLOW_CLIENTS = 100;
const OUTPUT_BYTES = 64 * MiB;
const LINE = 1023; // fold -w: full lines of 1023 "y", then what is left without a newline

function connect(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/** What the master answers a client it does not take: the HTTP status and body of the refused upgrade. */
function refusal(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.once('open', () => reject(new Error('the client over the cap was let in')));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', () => {}); // follows the unexpected response
  });
}

function closed(ws: WebSocket): Promise<number> {
  if (ws.readyState === ws.CLOSED) return Promise.resolve(0);
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

describe('clients of /ws that never read', () => {
  it(`${SLOW_CLIENTS} of them on a log printing 64 MB: memory bounded, they are dropped and forgotten, the build is whole`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-live-'));
    const go = path.join(dir, 'go');
    const master = await startTestMaster(
      {
        agents: [{ name: 'printer', token: 'live-limits-token' }],
        builders: [
          {
            name: 'flood',
            factory: new BuildFactory().addStep(
              new ShellCommand({
                name: 'print',
                // Prints only once the clients follow the log (the test creates the file).
                command: `echo ready; while [ ! -e ${go} ]; do sleep 0.05; done; head -c ${OUTPUT_BYTES} /dev/zero | tr "\\0" "y" | fold -w ${LINE}`,
              }),
            ),
          },
        ],
      },
      await sqlite.create(),
    );
    const live = internalsOf(master).live;
    const agent = await startAgent(master, 'printer', 'live-limits-token');
    const slow: WebSocket[] = [];
    let reader: WebSocket | null = null;
    try {
      const c = api(master);
      const forced = await c.post('/builders/flood/force', {});
      const logid = await waitFor('the step’s log', async () => {
        const build = (await c.get(`/builds?buildrequestid=${forced.body.buildrequestid}`)).body.builds[0];
        const step = build && (await c.get(`/builds/${build.buildid}/steps`)).body.steps[0];
        return step && ((await c.get(`/steps/${step.stepid}/logs`)).body.logs[0]?.logid as number | undefined);
      });
      for (let i = 0; i < SLOW_CLIENTS; i++) {
        const ws = await connect(master.port);
        ws.send(JSON.stringify({ type: 'subscribe', logs: [logid] }));
        ws.pause(); // reads nothing more: what the master sends piles up on its side
        slow.push(ws);
      }
      // One client that reads but follows no log: it keeps getting the build's events.
      reader = await connect(master.port);
      const events: string[] = [];
      reader.on('message', (d) => events.push(z.object({ event: z.string() }).parse(JSON.parse(d.toString())).event));
      await waitFor('the master to take every subscription', () => live.subscriptionCount === SLOW_CLIENTS);

      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
      fs.writeFileSync(go, '');
      const done = await waitForRequest(master, forced.body.buildrequestid, 180_000).finally(() => clearInterval(sampler));
      const grewMb = (peak - before) / MiB;
      console.log(`${SLOW_CLIENTS} clients not reading a 64 MB log: master RSS grew ${grewMb.toFixed(0)} MB`);

      // Without limits each client held its own copy of up to 4 MiB of output: 500+ MB for 100 clients.
      expect(grewMb).toBeLessThan(200);
      // Slow clients are dropped (the master closes them; they never read the close), the reader stays.
      await waitFor('the slow clients to be dropped', () => live.clientCount === 1, 30_000);
      expect(live.subscriptionCount).toBe(0);
      expect(reader.readyState).toBe(reader.OPEN);
      await waitFor('build.finished on the reader', () => events.includes('build.finished'));

      expect(done.build.result).toBe('success');
      const full = Math.floor(OUTPUT_BYTES / LINE);
      const expected = `ready\n${`${'y'.repeat(LINE)}\n`.repeat(full)}${'y'.repeat(OUTPUT_BYTES - full * LINE)}`;
      const stored = await stepLog(master, done.steps[0].stepid);
      expect(stored.length).toBe(Buffer.byteLength(expected));
      expect(stored.equals(Buffer.from(expected))).toBe(true);

      reader.close();
      await closed(reader);
      await waitFor('the master to forget every client', () => live.clientCount === 0);
      expect(live.subscriptionCount).toBe(0);
    } finally {
      for (const ws of slow) ws.terminate();
      reader?.terminate();
      await agent.kill();
      await master.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('the cap on /ws clients', () => {
  it(`refuses client ${liveStreamDefaults.maxClients + 1} with 503 and takes one again when a slot frees`, async () => {
    const master = await startTestMaster(
      { builders: [{ name: 'b', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })) }] },
      await sqlite.create(),
    );
    const clients: WebSocket[] = [];
    try {
      for (let i = 0; i < liveStreamDefaults.maxClients; i++) clients.push(await connect(master.port));
      const refused = await refusal(master.port);
      expect(refused.status).toBe(503);
      expect(refused.body).toBe(`too many live clients (at most ${liveStreamDefaults.maxClients}); try again later`);
      expect(internalsOf(master).live.clientCount).toBe(liveStreamDefaults.maxClients);

      const first = clients.shift();
      first?.close();
      if (first) await closed(first);
      await waitFor('the slot to free', () => internalsOf(master).live.clientCount < liveStreamDefaults.maxClients);
      clients.push(await connect(master.port));
      expect(internalsOf(master).live.clientCount).toBe(liveStreamDefaults.maxClients);
    } finally {
      for (const ws of clients) ws.terminate();
      await master.stop();
    }
  }, 60_000);
});
