/**
 * The worked example of docs/migrating-from-buildbot.md: ScummVM's Director test master, ported from
 * Buildbot (examples/buildbot-port/). Loaded with the loader `caliper check-config` uses, then run
 * on a real master and agent against a small stand-in for ScummVM's repository: a `configure`, a
 * Makefile whose compiler warns once, and a `scummvm` script that plays "movies" and prints what the
 * real one prints when a check fails. The web hook reporter posts to a receiver in this process.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompiledConfig } from '../../master/config/compile.ts';
import { loadConfigFile } from '../../master/config/loader.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import { silentLogger } from '../../core/logger.ts';
import { ROOT, api, forceAndWait, startAgent, stepLog, waitFor, waitForRequest, type AgentProcess } from '../helpers/harness.ts';
import { git } from '../helpers/git.ts';

const CONFIG = path.join(ROOT, 'examples/buildbot-port/master.config.ts');
const TOKEN = 'director-port-token';
const AGENT = 'director-worker';

/** ScummVM's stand-in: plays a movie; a name with CREDITS fails a check, one with Demo or warn warns. */
const FAKE_SCUMMVM = `#!/bin/sh
for arg in "$@"; do case "$arg" in --start-movie=*) movie="\${arg#--start-movie=}" ;; esac; done
echo "playing $movie (build $BUILD_NUMBER, video $SDL_VIDEODRIVER)"
case "$movie" in
  *CREDITS*) echo "WARNING: BUILDBOT: channel 3 has no sprite" ;;
  *Demo*|*warn*) echo "WARNING: palette not found, using the default" >&2 ;;
esac
exit 0
`;

const FILES: Record<string, string> = {
  configure: `#!/bin/sh\necho "configured with: $*" > config.mk\necho "configure: $*"\n`,
  Makefile: `scummvm: scummvm.sh\n\t@echo "engines/director/lingo/lingo.cpp:42:7: warning: unused variable 'x' [-Wunused-variable]" >&2\n\tcp scummvm.sh scummvm && chmod +x scummvm\n`,
  'scummvm.sh': FAKE_SCUMMVM,
  'engines/director/lingo/tests/if.lingo': 'put 1\n',
  'engines/director/lingo/tests/warn-loop.lingo': 'repeat with i = 1 to 3\n',
};

/**
 * The target builders' first command is `rsync -av --delete SRC/ DEST`. When this machine has no
 * rsync, a stand-in on the agent's PATH copies SRC's files into DEST instead (enough for the test).
 */
/** PATH as the worker had it: restored after the file (workers run several files in one process). */
const ORIGINAL_PATH = process.env.PATH;

function rsyncOnPath(dir: string): void {
  const onPath = (process.env.PATH ?? '').split(':').some((p) => fs.existsSync(path.join(p, 'rsync')));
  if (onPath) return;
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, 'rsync'),
    '#!/bin/sh\nfor a; do src="$dest"; dest="$a"; done\nrm -rf "$dest" && mkdir -p "$dest" && cp -R "$src". "$dest"/\n',
    { mode: 0o755 },
  );
  process.env.PATH = `${bin}:${process.env.PATH ?? ''}`;
}

describe('the Buildbot port (examples/buildbot-port)', () => {
  let dir: string;
  let repo: string;
  let config: CompiledConfig;
  let master: RunningMaster;
  let agent: AgentProcess;
  let receiver: http.Server;
  const reports: { event: string; builder: string; result: string | null }[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-port-'));
    repo = path.join(dir, 'scummvm');
    git(dir, 'init', '--quiet', '-b', 'master', repo);
    for (const [name, content] of Object.entries(FILES)) {
      fs.mkdirSync(path.dirname(path.join(repo, name)), { recursive: true });
      fs.writeFileSync(path.join(repo, name), content, { mode: name.includes('.') && name !== 'scummvm.sh' ? 0o644 : 0o755 });
    }
    git(repo, 'add', '.');
    git(repo, 'commit', '--quiet', '-m', 'director: a stand-in');
    // The agent's store of game files, one folder per target of targets.json.
    for (const game of ['example-win', 'demo-mac']) {
      fs.mkdirSync(path.join(dir, 'store', game), { recursive: true });
      fs.writeFileSync(path.join(dir, 'store', game, 'scummvm.conf'), `[${game}]\npath=.\n`);
    }
    rsyncOnPath(dir);

    receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const report = JSON.parse(body) as { event: string; build: { builder: string; result: string | null } };
        reports.push({ event: report.event, builder: report.build.builder, result: report.build.result });
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as { port: number };

    // What the original read with `environs`; the loader imports the config once, with these.
    Object.assign(process.env, {
      REPOSITORY: repo,
      WORKER_NAMES: AGENT,
      SCUMMVM_BUILDBOT_PASSWORD: TOKEN,
      TARGETS_BASEDIR: path.join(dir, 'store'),
      SCREENSHOT_DIR: path.join(dir, 'screenshots'),
      DATABASE_URL: `sqlite:${path.join(dir, 'state.sqlite')}`,
      GITHUB_WEBHOOK_SECRET: 'a-webhook-secret-of-the-test',
      WEB_REPORTER: 'true',
      REPORT_URL: `http://127.0.0.1:${port}/director`,
      TIMEOUT: '20',
      MAX_TIME: '30',
    });
    config = await loadConfigFile(CONFIG);
    master = await startMaster(config, {
      port: 0,
      host: '127.0.0.1',
      log: silentLogger,
      name: 'port-test',
      shutdownTimeoutMs: 3000,
      basedir: dir,
    });
    agent = await startAgent(master, AGENT, TOKEN);
  });

  afterAll(async () => {
    process.env.PATH = ORIGINAL_PATH;
    await agent?.kill();
    await master?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads with no errors, with the builders, schedulers, lock and reporter of the original', () => {
    expect(config.warnings).toEqual([]);
    expect(config.builders.map((b) => b.name)).toEqual(['build', 'lingotests D4', 'Example game win D3', 'Example demo mac D4']);
    const build = config.builders[0]!;
    expect(build.steps.map((s) => s.name)).toEqual(['git', 'nproc', 'configure-needed', 'configure', 'compile', 'upload', 'trigger']);
    expect(build.locks).toEqual([{ lock: 'build', access: 'exclusive' }]);
    expect(config.builders[2]!.steps.map((s) => s.name)).toEqual(['download', 'rsync', 'INTRO:START.MMM', 'INTRO:CREDITS.MMM']);
    expect(config.schedulers.map((s) => [s.type, s.name, s.builderNames])).toEqual([
      ['anyBranch', 'all', ['build']],
      ['triggerable', 'director-tests', ['lingotests D4', 'Example game win D3', 'Example demo mac D4']],
      ['force', 'force', ['build', 'lingotests D4', 'Example game win D3', 'Example demo mac D4']],
    ]);
    expect(config.services.map((s) => s.type)).toEqual(['httpReporter']);
    expect(config.web.changeHooks?.github?.repositoryUrl).toBe('html_url');
  });

  it('a change to the Director engine is built on a real agent; a second build does not configure again', async () => {
    const revision = git(repo, 'rev-parse', 'HEAD');
    const change = (files: string[]) => ({
      repository: repo,
      branch: 'master',
      revision,
      author: 'Ada <ada@example.org>',
      comments: 'x',
      files,
    });
    const client = api(master);
    expect((await client.post('/changes', change(['README.md']))).status).toBe(201);
    expect((await client.post('/changes', change(['engines/director/lingo/lingo.cpp']))).status).toBe(201);
    // treeStableTimer 5: both changes wait, then one request (the Director one makes the group worth a build).
    const builderid = (await client.get('/builders/build')).body.builders[0].builderid as number;
    const requests = await waitFor(
      'a build request of "build"',
      async () => {
        const found = (await client.get(`/buildrequests?builderid=${builderid}`)).body.buildrequests as { buildrequestid: number }[];
        return found.length > 0 ? found : null;
      },
      15_000,
    );
    expect(requests).toHaveLength(1);
    const first = await waitForRequest(master, requests[0]!.buildrequestid, 90_000);
    const byName = Object.fromEntries(first.steps.map((s: { name: string }) => [s.name, s])) as Record<
      string,
      { stepid: number; result: string; state_string: string }
    >;
    expect(byName.git?.state_string).toMatch(/^master at [0-9a-f]{12}$/);
    expect(byName.nproc?.result).toBe('success');
    expect(byName.configure?.result).toBe('success');
    expect(byName.compile?.result).toBe('warnings');
    expect(byName.compile?.state_string).toBe('0 errors, 1 warning');
    const triggered = (await stepLog(master, byName.trigger!.stepid, 'triggered')).toString();
    for (const builder of ['lingotests D4', 'Example game win D3', 'Example demo mac D4'])
      expect(triggered).toContain(`${builder}: build request`);

    const second = await forceAndWait(master, 'build', {}, 90_000);
    const configure = second.steps.find((s: { name: string }) => s.name === 'configure');
    expect(configure.result).toBe('skipped');
    // An incremental checkout keeps the binary: make has nothing to do, the compiler nothing to say.
    expect(second.steps.find((s: { name: string }) => s.name === 'compile').state_string).toBe('0 errors, 0 warnings');
  });

  it('reports each finished build to the web hook the config names (WEB_REPORTER)', async () => {
    await waitFor('a report of a finished build of "build"', () =>
      reports.some((r) => r.event === 'build.finished' && r.builder === 'build'),
    );
  });

  it('hands the binary to the test builders, which run every movie and every Lingo test', async () => {
    const run = await forceAndWait(master, 'build', {}, 120_000);
    const step = (name: string) => run.steps.find((s: { name: string }) => s.name === name);
    expect(step('upload').result).toBe('success');
    // The worst of the triggered builds: the CREDITS movie fails its check.
    expect(step('trigger').result).toBe('failure');
    const latest = async (builder: string) => {
      const b = (await api(master).get(`/builders/${encodeURIComponent(builder)}/builds?order=-number&limit=1`)).body.builds[0];
      const steps = (await api(master).get(`/builds/${b.buildid}/steps`)).body.steps as { name: string; result: string; stepid: number }[];
      return Object.fromEntries(steps.map((s) => [s.name, s]));
    };
    const game = await latest('Example game win D3');
    expect(game.download?.result).toBe('success');
    expect(game.rsync?.result).toBe('success');
    expect(game['INTRO:START.MMM']?.result).toBe('success');
    expect(game['INTRO:CREDITS.MMM']?.result).toBe('failure');
    expect((await stepLog(master, game['INTRO:CREDITS.MMM']!.stepid)).toString()).toContain('WARNING: BUILDBOT: channel 3 has no sprite');
    const demo = await latest('Example demo mac D4');
    expect(demo['Demo_Movie']?.result).toBe('warnings');
    const lingo = await latest('lingotests D4');
    expect(lingo['lingo tests']?.result).toBe('warnings');
    expect((await stepLog(master, lingo['lingo tests']!.stepid, 'summary')).toString()).toContain(
      '2 tests, 1 with warnings or errors:\nwarn-loop.lingo',
    );
  });
});
