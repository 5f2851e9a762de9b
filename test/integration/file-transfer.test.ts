/**
 * File transfer between master and agent (issue 12, item 2) on a real master and real agent
 * processes over real WebSockets: a 100 MB file up and down with exact sha256 (and the master's RSS
 * while it moves), a directory tree (nested, a symlink, modes) as a tar, the string downloads, paths
 * that try to leave their folder on either side, maxsize, mode, artifacts through the API, a
 * protocol 2 agent, a stop and a lost agent mid-transfer.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import {
  BuildFactory,
  DirectoryUpload,
  FileDownload,
  FileUpload,
  forceScheduler,
  interpolate,
  JSONPropertiesDownload,
  JSONStringDownload,
  renderer,
  Results,
  StringDownload,
} from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import { silentLogger } from '../../core/logger.ts';
import { internalsOf } from '../../master/testing.ts';
import { removeBuildArtifacts } from '../../master/build/file-transfer-artifacts.ts';
import type { Artifact, Page } from '../../protocol/api-types.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, spawnAgent, stepLog, waitFor, waitForRequest, type AgentProcess } from '../helpers/harness.ts';

const TOKEN = 'file-transfer-token';
const sqlite = testDatabases().find((d) => d.kind === 'sqlite');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-xfer-'));
const masterBase = path.join(tmp, 'master');
const outside = path.join(tmp, 'outside'); // neither the agent's nor the master's: nothing may land here
/** Each builder of this test writes under its own name in the master's shared upload folder. */
const uploads = (builder: string) => path.join(masterBase, 'uploads', builder);
const BIG = 100 * 1024 * 1024;
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const noPartials = (dir: string) =>
  !fs.existsSync(dir) || fs.readdirSync(dir, { recursive: true }).every((f) => !String(f).endsWith('.part'));
/** A builder whose steps all run whatever failed before (each is checked on its own). */
const goOn = { haltOnFailure: false };

async function startAgent(master: RunningMaster, name: string): Promise<AgentProcess> {
  const agent = spawnAgent(master, name, TOKEN);
  await waitFor(`agent ${name} (${agent.output()})`, () => internalsOf(master).registry.isConnected(name), 30_000);
  return agent;
}

/** A hello of protocol 2 on a raw socket, answering pings: an agent from before file transfer. */
function protocol2Agent(master: RunningMaster): WebSocket {
  const ws = new WebSocket(`ws://127.0.0.1:${master.port}/agents`);
  ws.on('open', () =>
    ws.send(JSON.stringify({ type: 'hello', protocol: 2, name: 'old', token: TOKEN, version: '0.0.9', os: 'linux', capacity: 1 })),
  );
  ws.on('message', (d) => {
    if (JSON.parse(d.toString()).type === 'ping') ws.send('{"type":"pong"}');
  });
  return ws;
}

async function force(master: RunningMaster, builder: string) {
  const forced = await api(master).post(`/builders/${builder}/force`, {});
  expect(forced.status).toBe(202);
  return forced.body.buildrequestid as number;
}

describe('file transfer between master and agent', () => {
  let master: RunningMaster;
  let agent: AgentProcess;
  let agent2: AgentProcess;
  let old: WebSocket;
  const builderDir = (a: AgentProcess, builder: string) => path.join(a.workdir, builder, 'build');

  beforeAll(async () => {
    if (!sqlite) throw new Error('no SQLite test database');
    fs.mkdirSync(outside, { recursive: true });
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'not yours\n');
    const config = compileConfig({
      agents: [
        { name: 'x1', token: TOKEN },
        { name: 'x2', token: TOKEN },
        { name: 'old', token: TOKEN },
      ],
      protocol: { graceMs: 500 },
      builders: [
        {
          name: 'big',
          agents: ['x1'],
          factory: new BuildFactory()
            .addStep(new FileUpload({ name: 'up', workersrc: 'big.bin', masterdest: 'big/big.bin' }))
            .addStep(new FileDownload({ name: 'down', mastersrc: 'big/big.bin', workerdest: 'copy/big.bin' })),
        },
        {
          name: 'tree',
          agents: ['x1'],
          factory: new BuildFactory()
            .addStep(new DirectoryUpload({ name: 'dir', workersrc: 'tree', masterdest: 'tree/tree', compress: 'gz', artifact: true }))
            .addStep(new FileUpload({ name: 'one', workersrc: 'tree/sub/deep/data.bin', artifact: 'data.bin', mode: 0o640 })),
        },
        {
          name: 'strings',
          agents: ['x1'],
          properties: { who: 'caliper' },
          factory: new BuildFactory()
            .addStep(new StringDownload({ name: 's', s: interpolate('hello %(prop:who)s\n'), workerdest: 'out/hello.sh', mode: 0o755 }))
            .addStep(
              new JSONStringDownload({
                name: 'j',
                o: { a: 1, who: interpolate('%(prop:who)s'), list: [true, null] },
                workerdest: 'out/o.json',
              }),
            )
            .addStep(new JSONPropertiesDownload({ name: 'p', workerdest: 'out/props.json' }))
            .addStep(new FileUpload({ name: 'mode up', workersrc: 'run.sh', masterdest: 'strings/bin/run.sh', mode: 0o750 }))
            .addStep(new FileDownload({ name: 'mode down', mastersrc: 'strings/bin/run.sh', workerdest: 'fetched/run.sh', mode: 0o700 })),
        },
        {
          name: 'escapes',
          agents: ['x1'],
          factory: new BuildFactory()
            .addStep(new FileUpload({ name: 'dotdot', workersrc: renderer(() => '../outside.txt'), masterdest: 'escapes/x', ...goOn }))
            .addStep(new FileUpload({ name: 'absolute', workersrc: renderer(() => '/etc/hostname'), masterdest: 'escapes/x', ...goOn }))
            .addStep(new FileUpload({ name: 'agent symlink', workersrc: 'link-out/secret.txt', masterdest: 'escapes/x', ...goOn }))
            .addStep(new FileUpload({ name: 'master dotdot', workersrc: 'small.txt', masterdest: renderer(() => '../../x'), ...goOn }))
            .addStep(
              new FileUpload({ name: 'master symlink up', workersrc: 'small.txt', masterdest: 'escapes/m-link/planted.txt', ...goOn }),
            )
            .addStep(
              new FileDownload({ name: 'master symlink down', mastersrc: 'escapes/m-link/secret.txt', workerdest: 'got.txt', ...goOn }),
            )
            .addStep(
              new FileDownload({ name: 'agent symlink down', mastersrc: 'escapes/small.txt', workerdest: 'link-out/planted.txt', ...goOn }),
            )
            .addStep(new FileUpload({ name: 'too big', workersrc: 'small.txt', masterdest: 'escapes/too-big.txt', maxsize: 10, ...goOn }))
            .addStep(
              new DirectoryUpload({ name: 'too big dir', workersrc: 'dir', masterdest: 'escapes/too-big-dir', maxsize: 2048, ...goOn }),
            )
            .addStep(
              new FileDownload({ name: 'too big down', mastersrc: 'escapes/small.txt', workerdest: 'too-big.txt', maxsize: 10, ...goOn }),
            )
            .addStep(new FileUpload({ name: 'missing', workersrc: 'nothing-here', masterdest: 'escapes/y', ...goOn })),
        },
        {
          name: 'old',
          agents: ['old'],
          factory: new BuildFactory().addStep(new FileUpload({ name: 'up', workersrc: 'f', masterdest: 'old/f' })),
        },
        {
          name: 'cancel-me',
          agents: ['x2'],
          factory: new BuildFactory().addStep(new FileUpload({ name: 'up', workersrc: 'big.bin', masterdest: 'cancel-me/big.bin' })),
        },
        {
          name: 'lose-me',
          agents: ['x2'],
          factory: new BuildFactory().addStep(new FileUpload({ name: 'up', workersrc: 'big.bin', masterdest: 'lose-me/big.bin' })),
        },
      ],
      schedulers: [forceScheduler({ name: 'force', builderNames: ['big', 'tree', 'strings', 'escapes', 'old', 'cancel-me', 'lose-me'] })],
    });
    master = await startMaster(config, {
      port: 0,
      host: '127.0.0.1',
      dbUrl: await sqlite.create(),
      basedir: masterBase,
      log: silentLogger,
      name: `test-xfer-${process.pid}`,
      shutdownTimeoutMs: 3000,
    });
    [agent, agent2] = await Promise.all([startAgent(master, 'x1'), startAgent(master, 'x2')]);
  }, 60_000);

  afterAll(async () => {
    old?.terminate();
    await agent?.kill();
    await agent2?.kill('SIGKILL');
    await master?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('moves a 100 MB file up and back down with the exact sha256, the master holding a bounded part of it', async () => {
    const dir = builderDir(agent, 'big');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'big.bin');
    const fd = fs.openSync(file, 'w');
    for (let i = 0; i < BIG / (4 * 1024 * 1024); i++) fs.writeSync(fd, randomBytes(4 * 1024 * 1024));
    fs.closeSync(fd);
    const expected = sha256(file);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = Date.now();
    const { build, steps } = await waitForRequest(master, await force(master, 'big'), 120_000);
    clearInterval(sampler);
    expect(build.results, JSON.stringify(steps)).toBe(Results.SUCCESS);
    expect(sha256(path.join(uploads('big'), 'big.bin'))).toBe(expected);
    expect(sha256(path.join(dir, 'copy', 'big.bin'))).toBe(expected);
    const times = steps.map(
      (s: { name: string; started_at: number; complete_at: number }) => `${s.name} ${(s.complete_at - s.started_at).toFixed(2)} s`,
    );
    const growth = (peak - before) / (1024 * 1024);
    console.log(
      `100 MB: ${times.join(', ')} (build ${((Date.now() - started) / 1000).toFixed(2)} s); master RSS +${growth.toFixed(0)} MiB`,
    );
    const log = (await stepLog(master, steps[0].stepid)).toString();
    expect(log).toContain(`104857600 bytes, sha256 ${expected}`);
    // The window (4 MiB) and the frames in flight, not the file: far below its 100 MB.
    expect(growth).toBeLessThan(60);
    expect(noPartials(uploads('big'))).toBe(true);
    fs.rmSync(path.join(dir, 'copy'), { recursive: true });
  }, 180_000);

  it('uploads a directory tree (nested, a symlink, modes) exactly, and keeps it and a file as artifacts', async () => {
    const src = path.join(builderDir(agent, 'tree'), 'tree');
    fs.mkdirSync(path.join(src, 'sub', 'deep'), { recursive: true });
    fs.mkdirSync(path.join(src, 'empty'));
    fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
    fs.writeFileSync(path.join(src, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    fs.writeFileSync(path.join(src, 'sub', 'private'), 'p', { mode: 0o600 });
    fs.chmodSync(path.join(src, 'sub', 'private'), 0o600);
    fs.chmodSync(path.join(src, 'run.sh'), 0o755);
    fs.writeFileSync(path.join(src, 'sub', 'deep', 'data.bin'), randomBytes(300_000));
    fs.symlinkSync('sub/deep/data.bin', path.join(src, 'link'));
    // An older tree at masterdest is replaced, not merged.
    fs.mkdirSync(uploads('tree') + '/tree', { recursive: true });
    fs.writeFileSync(path.join(uploads('tree'), 'tree', 'stale.txt'), 'old');

    const { build, steps } = await waitForRequest(master, await force(master, 'tree'));
    expect(build.results, JSON.stringify(steps)).toBe(Results.SUCCESS);
    const dest = path.join(uploads('tree'), 'tree');
    const listing = (root: string) => fs.readdirSync(root, { recursive: true }).map(String).sort();
    expect(listing(dest)).toEqual(listing(src));
    expect(fs.readlinkSync(path.join(dest, 'link'))).toBe('sub/deep/data.bin');
    // (Buffer.equals: a deep equality of 300 KB byte by byte takes seconds.)
    expect(
      fs.readFileSync(path.join(dest, 'sub', 'deep', 'data.bin')).equals(fs.readFileSync(path.join(src, 'sub', 'deep', 'data.bin'))),
    ).toBe(true);
    expect(fs.readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(fs.statSync(path.join(dest, 'run.sh')).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(dest, 'sub', 'private')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dest, 'empty')).isDirectory()).toBe(true);

    // Artifacts: listed with size, sha256, step and URL; downloaded byte-exact with length and name.
    const client = api(master);
    const listed = (await client.get<Page<'artifacts'>>(`/builds/${build.buildid}/artifacts`)).body;
    expect(listed.meta.total).toBe(2);
    const [tarball, data] = listed.artifacts as [Artifact, Artifact];
    expect(tarball).toMatchObject({ name: 'tree.tar.gz', step: 'dir', buildid: build.buildid });
    const dataBytes = fs.readFileSync(path.join(src, 'sub', 'deep', 'data.bin'));
    expect(data).toMatchObject({
      name: 'data.bin',
      step: 'one',
      size: dataBytes.length,
      sha256: createHash('sha256').update(dataBytes).digest('hex'),
      url: `/api/v2/builds/${build.buildid}/artifacts/data.bin`,
    });
    const res = await fetch(`${master.url}${data.url}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(dataBytes.length));
    expect(res.headers.get('content-disposition')).toContain('attachment; filename="data.bin"');
    expect(Buffer.from(await res.arrayBuffer()).equals(dataBytes)).toBe(true);
    const tar = Buffer.from(await (await fetch(`${master.url}${tarball.url}`)).arrayBuffer());
    expect(tar.length).toBe(tarball.size);
    expect(createHash('sha256').update(tar).digest('hex')).toBe(tarball.sha256);
    expect(tar.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip
    expect((await client.get(`/builds/${build.buildid}/artifacts/nope`)).status).toBe(404);

    // The retention janitor's call: files and rows gone.
    const repo = internalsOf(master).repos.artifacts;
    const folder = path.join(masterBase, 'artifacts', String(build.buildid));
    expect(fs.existsSync(path.join(folder, 'data.bin'))).toBe(true);
    expect(await removeBuildArtifacts(repo, build.buildid, masterBase)).toBe(2);
    expect(fs.existsSync(folder)).toBe(false);
    expect((await client.get<Page<'artifacts'>>(`/builds/${build.buildid}/artifacts`)).body.artifacts).toEqual([]);
  }, 60_000);

  it('writes rendered strings, JSON and the build properties on the agent, and applies modes both ways', async () => {
    const dir = builderDir(agent, 'strings');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\n', { mode: 0o644 });
    const { build, steps } = await waitForRequest(master, await force(master, 'strings'));
    expect(build.results, JSON.stringify(steps)).toBe(Results.SUCCESS);
    expect(fs.readFileSync(path.join(dir, 'out', 'hello.sh'), 'utf8')).toBe('hello caliper\n');
    expect(fs.statSync(path.join(dir, 'out', 'hello.sh')).mode & 0o777).toBe(0o755);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'out', 'o.json'), 'utf8'))).toEqual({ a: 1, who: 'caliper', list: [true, null] });
    const props = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'props.json'), 'utf8'));
    expect(props.properties).toMatchObject({ who: 'caliper', buildername: 'strings', agentname: 'x1', buildnumber: build.number });
    expect(props.sourcestamps).toEqual([]);
    expect(fs.statSync(path.join(uploads('strings'), 'bin', 'run.sh')).mode & 0o777).toBe(0o750);
    expect(fs.statSync(path.join(dir, 'fetched', 'run.sh')).mode & 0o777).toBe(0o700);
    expect(noPartials(dir)).toBe(true);
  });

  it('refuses paths that leave their folder on either side, and maxsize: FAILURE, a message, nothing written', async () => {
    const dir = builderDir(agent, 'escapes');
    fs.mkdirSync(path.join(dir, 'dir'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'small.txt'), 'x'.repeat(100));
    fs.writeFileSync(path.join(dir, 'dir', 'blob'), randomBytes(8192));
    fs.symlinkSync(outside, path.join(dir, 'link-out'));
    fs.mkdirSync(uploads('escapes'), { recursive: true });
    fs.writeFileSync(path.join(uploads('escapes'), 'small.txt'), 'y'.repeat(100));
    fs.symlinkSync(outside, path.join(uploads('escapes'), 'm-link'));

    const { build, steps } = await waitForRequest(master, await force(master, 'escapes'));
    expect(build.results).toBe(Results.FAILURE);
    const state = Object.fromEntries(
      steps.map((s: { name: string; result: string; state_string: string }) => [s.name, [s.result, s.state_string]]),
    );
    const failure = (pattern: RegExp) => ['failure', expect.stringMatching(pattern)];
    expect(state).toEqual({
      dotdot: failure(/^workersrc "\.\.\/outside\.txt" must be a relative path without "\.\."/),
      absolute: failure(/^workersrc "\/etc\/hostname" must be a relative path/),
      'agent symlink': failure(/^build\/link-out\/secret\.txt leads to \S*\/outside\/secret\.txt, outside the builder's directory/),
      'master dotdot': failure(/^masterdest "\.\.\/\.\.\/x" must be a relative path/),
      'master symlink up': failure(/m-link\/planted\.txt leads through .*outside, outside the master's upload folder/),
      'master symlink down': failure(
        /^escapes\/m-link\/secret\.txt leads to \S*\/outside\/secret\.txt, outside the master's upload folder/,
      ),
      'agent symlink down': failure(/link-out\/planted\.txt leads through .*outside, outside the builder's directory/),
      'too big': failure(/small\.txt is 100 bytes, more than maxsize 10/),
      'too big dir': failure(/dir: more than maxsize 2048 bytes/),
      'too big down': failure(/mastersrc "escapes\/small\.txt" is 100 bytes, more than maxsize 10/),
      missing: failure(/nothing-here: no such file in the builder's directory/),
    });
    // The reason is in each step's log too.
    expect((await stepLog(master, steps[2].stepid)).toString()).toMatch(
      /upload of link-out\/secret\.txt failed: .*outside the builder's directory/,
    );
    expect((await stepLog(master, steps[0].stepid)).toString()).toMatch(/upload refused: workersrc "\.\.\/outside\.txt"/);
    // Nothing landed outside, at the destinations, or half-written anywhere.
    expect(fs.readdirSync(outside)).toEqual(['secret.txt']);
    for (const f of ['x', 'too-big.txt', 'too-big-dir', 'y']) expect(fs.existsSync(path.join(uploads('escapes'), f))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'too-big.txt'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'got.txt'))).toBe(false);
    expect(noPartials(uploads('escapes'))).toBe(true);
    expect(noPartials(dir)).toBe(true);
  });

  it('fails a transfer on an agent of protocol 2 with a message to upgrade it; its commands still run', async () => {
    old = protocol2Agent(master);
    await waitFor('the protocol 2 agent', () => internalsOf(master).registry.isConnected('old'));
    const { build, steps } = await waitForRequest(master, await force(master, 'old'));
    expect(build.results).toBe(Results.FAILURE);
    expect(steps[0]).toMatchObject({
      result: 'failure',
      state_string: 'agent old speaks protocol 2; file transfer needs 3 — upgrade the agent',
    });
    expect(old.readyState).toBe(WebSocket.OPEN); // no frame it cannot read was sent
  });

  it('a stop cancels an upload mid-way: CANCELLED, nothing partial left', async () => {
    const dir = builderDir(agent2, 'cancel-me');
    fs.mkdirSync(dir, { recursive: true });
    const fd = fs.openSync(path.join(dir, 'big.bin'), 'w');
    for (let i = 0; i < 50; i++) fs.writeSync(fd, randomBytes(4 * 1024 * 1024));
    fs.closeSync(fd);
    const request = await force(master, 'cancel-me');
    await waitFor('the upload to begin', () => !noPartials(uploads('cancel-me')), 30_000);
    const build = (await api(master).get(`/builds?buildrequestid=${request}`)).body.builds[0];
    expect((await api(master).post(`/builds/${build.buildid}/stop`, { reason: 'enough' })).status).toBe(202);
    const done = await waitForRequest(master, request, 60_000);
    expect(done.build.results).toBe(Results.CANCELLED);
    expect(done.steps[0]).toMatchObject({ result: 'cancelled' });
    expect(fs.existsSync(path.join(uploads('cancel-me'), 'big.bin'))).toBe(false);
    expect(noPartials(uploads('cancel-me'))).toBe(true);
  }, 90_000);

  it('a lost agent mid-upload ends the step RETRY, and nothing partial is left on the master', async () => {
    const src = path.join(builderDir(agent2, 'cancel-me'), 'big.bin');
    const dir = builderDir(agent2, 'lose-me');
    fs.mkdirSync(dir, { recursive: true });
    fs.renameSync(src, path.join(dir, 'big.bin'));
    const request = await force(master, 'lose-me');
    await waitFor('the upload to begin', () => !noPartials(uploads('lose-me')), 30_000);
    await agent2.kill('SIGKILL');
    await waitFor(
      'the build to end RETRY',
      async () => (await api(master).get(`/builds?buildrequestid=${request}`)).body.builds[0]?.results === Results.RETRY,
      30_000,
    );
    const build = (await api(master).get(`/builds?buildrequestid=${request}`)).body.builds[0];
    const steps = (await api(master).get(`/builds/${build.buildid}/steps`)).body.steps;
    expect(steps[0]).toMatchObject({ result: 'retry', state_string: 'agent lost' });
    expect(fs.existsSync(path.join(uploads('lose-me'), 'big.bin'))).toBe(false);
    expect(noPartials(uploads('lose-me'))).toBe(true);
  }, 90_000);
});

describe('file transfer options are checked with the config', () => {
  it('refuses literal paths that leave their folder, and a compress Caliper lacks, naming each', () => {
    const bad = () =>
      compileConfig({
        agents: [{ name: 'a', token: 't' }],
        builders: [
          {
            name: 'b',
            agents: ['a'],
            factory: new BuildFactory()
              .addStep(new FileUpload({ name: 'u', workersrc: '../x', masterdest: '/abs' }))
              .addStep(new FileDownload({ name: 'd', mastersrc: 'ok', workerdest: 'a/../../b' }))
              .addStep(new DirectoryUpload({ name: 'dir', workersrc: 'd', masterdest: 'd', compress: 'bz2' as 'gz' }))
              .addStep(new FileUpload({ name: 'nowhere', workersrc: 'f' })),
          },
        ],
      });
    expect(bad).toThrow(/steps\[0\]\.workersrc.*relative path/);
    expect(bad).toThrow(/steps\[0\]\.masterdest/);
    expect(bad).toThrow(/steps\[1\]\.workerdest/);
    expect(bad).toThrow(/steps\[2\]\.compress.*bz2 is not supported/);
    expect(bad).toThrow(/steps\[3\]\.masterdest.*unless the file is kept as an artifact/);
  });
});
