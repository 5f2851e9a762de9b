/**
 * Graceful shutdown with SIGTERM, a step printing 1 GB (memory stays bounded, log capped with a
 * marker), and handshake rate limiting.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { BuildFactory, ShellCommand } from '../../index.ts';
import { MAX_FAILED_HANDSHAKES } from '../../master/agents/agent-server.ts';
import { testDatabases } from '../helpers/databases.ts';
import { CLI, ROOT, api, forceAndWait, startAgent, startTestMaster, stepLog, waitFor } from '../helpers/harness.ts';
import { helloFrame } from '../helpers/frames.ts';

const sqlite = testDatabases()[0] as { create(): Promise<string> };

describe('graceful shutdown', () => {
  it('on SIGTERM lets the running build finish, refuses new ones, then exits 0', async () => {
    const dir = path.join(ROOT, 'tmp', `shutdown-${process.pid}`);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'master.config.ts');
    fs.writeFileSync(
      file,
      `import { defineConfig, BuildFactory, ShellCommand } from 'caliper';
export default defineConfig({
  shutdownTimeoutMs: 20000,
  agents: [{ name: 'a1', token: 'shutdown-token' }],
  builders: [{ name: 'b', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'echo begin; sleep 2; echo end' })) }],
});
`,
    );
    const dbUrl = await sqlite.create();
    const child = spawn(process.execPath, [CLI, 'start', '--config', file, '--port', '0', '--db', dbUrl, '--with-agent'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const url = await waitFor(`master (${out})`, () => /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]);
    const get = (p: string) => fetch(`${url}/api/v2${p}`).then((r) => r.json() as Promise<any>);
    const post = (p: string) => fetch(`${url}/api/v2${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await waitFor('agent', async () => (await get('/agents')).agents[0].connected);
    const { buildrequestid } = (await (await post('/builders/b/force')).json()) as { buildrequestid: number };
    await waitFor('the build to start', async () => (await get(`/builds?buildrequestid=${buildrequestid}`)).builds[0]);
    child.kill('SIGTERM');
    await waitFor('shutdown to begin', () => out.includes('SIGTERM'));
    const refused = await post('/builders/b/force');
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('SHUTTING_DOWN');
    expect(await exited).toBe(0);
    // The build finished on its own during the shutdown: reopen the database to look.
    const master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: 'shutdown-token' }],
        builders: [{ name: 'b', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })) }],
      },
      dbUrl,
    );
    try {
      const c = api(master);
      const build = (await c.get(`/builds?buildrequestid=${buildrequestid}`)).body.builds[0];
      expect(build).toMatchObject({ result: 'success', complete: true });
      const steps = (await c.get(`/builds/${build.buildid}/steps`)).body.steps;
      expect((await stepLog(master, steps[0].stepid)).toString()).toBe('begin\nend\n');
      expect((await c.get('/buildrequests')).body.meta.total).toBe(1); // the refused force stored nothing
    } finally {
      await master.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('a step printing 1 GB', () => {
  it('keeps the master’s memory bounded and caps the stored log with a marker', async () => {
    const cap = 8 * 1024 * 1024;
    const master = await startTestMaster(
      {
        logs: { maxBytes: cap },
        agents: [{ name: 'big', token: 'big-output-token' }],
        builders: [
          {
            name: 'flood',
            factory: new BuildFactory().addStep(
              new ShellCommand({ name: 'gigabyte', command: 'head -c 1073741824 /dev/zero | tr "\\0" "y" | fold -w 1023' }),
            ),
          },
        ],
      },
      await sqlite.create(),
    );
    const agent = await startAgent(master, 'big', 'big-output-token');
    try {
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
      const { build, steps } = await forceAndWait(master, 'flood', {}, 180_000);
      clearInterval(sampler);
      expect(build.result).toBe('success');
      const log = (await api(master).get(`/steps/${steps[0].stepid}/logs`)).body.logs[0];
      const raw = await stepLog(master, steps[0].stepid);
      const marker = `\n[caliper] log truncated at ${cap} bytes (logs.maxBytes); later output was discarded\n`;
      expect(raw.length).toBe(cap + marker.length);
      expect(raw.subarray(cap).toString()).toBe(marker);
      expect(raw.subarray(0, 1024).toString()).toBe(`${'y'.repeat(1023)}\n`);
      expect(log.num_bytes).toBe(cap + marker.length);
      // The master (this process) streamed 1 GB through without holding it: growth well under 256 MB.
      const grewMb = (peak - before) / 1024 / 1024;
      console.log(`1 GB step: master RSS grew ${grewMb.toFixed(0)} MB (peak ${(peak / 1024 / 1024).toFixed(0)} MB)`);
      expect(grewMb).toBeLessThan(256);
    } finally {
      await agent.kill();
      await master.stop();
    }
  }, 240_000);
});

describe('handshake rate limiting', () => {
  it(`refuses a peer outright after ${MAX_FAILED_HANDSHAKES} wrong tokens in a minute`, async () => {
    const master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: 'right-token-1' }],
        builders: [{ name: 'b', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: 'true' })) }],
      },
      await sqlite.create(),
    );
    const attempt = (token: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${master.port}/agents`);
        ws.on('open', () => ws.send(helloFrame(token)));
        ws.on('message', (d) => {
          const m = JSON.parse(d.toString()) as { type: string; reason?: string };
          resolve(m.type === 'reject' ? (m.reason ?? '') : m.type);
          ws.close();
        });
        ws.on('error', () => resolve('error'));
      });
    try {
      for (let i = 0; i < MAX_FAILED_HANDSHAKES; i++) expect(await attempt(`guess-${i}`)).toBe('unknown agent or wrong token');
      expect(await attempt('guess-again')).toMatch(/too many failed handshakes/);
      // Even the right token waits out the minute: a guesser cannot tell when it hit.
      expect(await attempt('right-token-1')).toMatch(/too many failed handshakes/);
    } finally {
      await master.stop();
    }
  });
});
