/**
 * Caliper as a user gets it: `npm pack` (which builds dist/ through prepare), the tarball installed
 * into a scratch project, a master.config.ts there that imports from 'caliper', and the installed
 * `caliper` command run with this Node (20 in CI): check-config, the type declarations through tsc,
 * a master, and an agent that connects and runs a build. The agent must load neither tsx nor any of
 * the master's modules: it is the lean program dist/agent/caliper-agent.js (issue 13).
 *
 * Dependencies come from the npm cache where it has them (`--prefer-offline`). Their install scripts
 * are skipped: they would build better-sqlite3 from source when no prebuilt binary can be fetched,
 * minutes that test nothing of ours; its binary is the checkout's, built for this same Node.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, waitFor } from '../helpers/harness.ts';
import { loadConfigFile } from '../../master/config/loader.ts';
import { findPerl } from '../../agent/spawn-helper.ts';
import { BuildFactory } from '../../index.ts';

const CONFIG = `import { defineConfig, BuildFactory, ShellCommand } from 'caliper';

const greeting: string = 'hello from the package';

export default defineConfig({
  agents: [{ name: 'a1', token: 'package-token-0123' }],
  builders: [
    {
      name: 'hello',
      agents: ['a1'],
      factory: new BuildFactory().addStep(new ShellCommand({ name: 'greet', command: ['echo', greeting] })),
    },
  ],
});
`;

// Type-checked with the declarations in dist/: an option of the wrong type must be an error.
const WRONG_TYPE = `import { ShellCommand } from 'caliper';
export const step = new ShellCommand({ name: 'x', command: 'true', haltOnFailure: 'yes' });
`;

// Preloaded into the agent (--import): every module it loads, ES modules through a load hook and
// CommonJS ones from require.cache at exit, one URL or path a line, into $LOADS_FILE; Node's own
// modules from process.moduleLoadList, as \`node:NAME\`.
const RECORD_LOADS = `import fs from 'node:fs';
import { createRequire, register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
import fs from 'node:fs';
export async function load(url, context, next) {
  fs.appendFileSync(process.env.LOADS_FILE, url + '\\\\n');
  return next(url, context);
}\`));
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => fs.appendFileSync(process.env.LOADS_FILE, Object.keys(cache).join('\\n') + '\\n'));
process.on('exit', () => {
  const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => 'node:' + m.slice(13));
  fs.appendFileSync(process.env.LOADS_FILE, builtins.join('\\n') + '\\n');
});
`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-package-'));
const project = path.join(tmp, 'project');
const installed = path.join(project, 'node_modules', 'caliper');
const children: ChildProcess[] = [];

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 240_000 });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, out: `${result.stdout}${result.stderr}` };
}

/** Runs a command that must succeed; its stdout. */
function must(command: string, args: string[], cwd: string): string {
  const { code, stdout, out } = run(command, args, cwd);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}:\n${out}`);
  return stdout;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, args, { cwd: project, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** What `npm run build` reads: the sources of the rooms it compiles, the UI, the build scripts and settings. */
const BUILD_INPUTS = [
  'core',
  'protocol',
  'master',
  'steps',
  'agent',
  'metrics',
  'frontend',
  'scripts',
  'index.ts',
  'package.json',
  'tsconfig.build.json',
];

/**
 * Whether dist/ was built after the last change to what it is built from: scripts/test.sh builds it
 * just before the tests. Then `npm pack` need not build it again (prepare: 20 s of the two cores,
 * the same build); a checkout changed since, or never built, is built by prepare as a user's would be.
 */
function distIsFresh(): boolean {
  const dist = path.join(ROOT, 'dist');
  if (!fs.existsSync(path.join(dist, 'index.js'))) return false;
  let builtAt = Infinity; // the oldest file the build wrote: about when it started
  for (const f of fs.readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
    const stat = fs.statSync(path.join(dist, f));
    if (stat.isFile()) builtAt = Math.min(builtAt, stat.mtimeMs);
  }
  const listed = run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', ...BUILD_INPUTS], ROOT);
  if (listed.code !== 0) return false; // not a git checkout: build, to be sure
  const sources = listed.stdout.split('\0').filter(Boolean);
  return sources.every((f) => !fs.existsSync(path.join(ROOT, f)) || fs.statSync(path.join(ROOT, f)).mtimeMs < builtAt);
}

beforeAll(() => {
  const pack = ['pack', '--json', '--pack-destination', tmp, ...(distIsFresh() ? ['--ignore-scripts'] : [])];
  const packed = JSON.parse(must('npm', pack, ROOT).replace(/^[^[]*/, '')) as {
    filename: string;
  }[];
  const tarball = path.join(tmp, packed[0]?.filename ?? '');
  fs.mkdirSync(project);
  // A project as `npm init` leaves it: CommonJS by default; the config still loads as ESM.
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'scratch', version: '1.0.0', private: true }));
  must('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', tarball], project);
  const ours = path.dirname(createRequire(path.join(ROOT, 'package.json')).resolve('better-sqlite3/package.json'));
  const theirs = path.join(project, 'node_modules', 'better-sqlite3');
  const version = (dir: string) => (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  if (version(ours) === version(theirs)) {
    fs.cpSync(path.join(ours, 'build', 'Release', 'better_sqlite3.node'), path.join(theirs, 'build', 'Release', 'better_sqlite3.node'));
  } else {
    must('npm', ['rebuild', 'better-sqlite3'], project);
  }
  fs.writeFileSync(path.join(project, 'master.config.ts'), CONFIG);
}, 300_000);

afterAll(async () => {
  await Promise.all(children.map(stop));
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the package, installed into a scratch project', () => {
  it('ships compiled JavaScript, declarations and the agent program, not the TypeScript sources', () => {
    for (const file of [
      'bin/caliper.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/agent/caliper-agent.js',
      'dist/agent/orphan-guard.sh',
      'dist/agent/spawn-helper.pl',
    ]) {
      expect(fs.existsSync(path.join(installed, file)), file).toBe(true);
    }
    const files = fs.readdirSync(installed, { recursive: true, encoding: 'utf8' });
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    // The agent carries zod's English messages, not its forty languages (scripts/build.mjs).
    const agentProgram = fs.readFileSync(path.join(installed, 'dist/agent/caliper-agent.js'), 'utf8');
    expect(agentProgram).toContain('Invalid input');
    expect(agentProgram).not.toContain('attendu'); // French: "Entrée invalide : … attendu"
    expect(files.some((f) => f.startsWith('test'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'dist', 'frontend', 'dist', 'index.html'))).toBe(true);
  });

  it('checks the config with the installed command, on this Node', () => {
    const out = must('npx', ['--no-install', 'caliper', 'check-config'], project);
    expect(out).toContain('master.config.ts: OK (1 builders, 1 agents');
  });

  it('types a config with the declarations it ships', () => {
    fs.writeFileSync(path.join(project, 'wrong.ts'), WRONG_TYPE);
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          strict: true,
          noEmit: true,
          // As `tsc --init` and most projects have it: the user's code is checked against our
          // declarations, not our declarations against the user's settings.
          skipLibCheck: true,
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
          types: ['node'],
        },
        files: ['master.config.ts', 'wrong.ts'],
      }),
    );
    const tsc = createRequire(path.join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
    const { code, out } = run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    // The one error is the wrong option: the config itself types, against dist/*.d.ts.
    expect(
      out
        .trim()
        .split('\n')
        .filter((l) => /error TS/.test(l)),
    ).toEqual([expect.stringMatching(/^wrong\.ts\(2,\d+\): error TS2322: .*'string' is not assignable to type 'boolean/)]);
    expect(code).not.toBe(0);
  });

  it('runs a master and a lean agent from it: the agent loads no tsx and nothing of the master', async () => {
    const bin = path.join(project, 'node_modules', '.bin', 'caliper');
    const master = start([bin, 'start', '--config', 'master.config.ts', '--port', '0']);
    const url = await waitFor(
      `the master (output: ${master.output()})`,
      () => /at (http:\/\/127\.0\.0\.1:\d+)/.exec(master.output())?.[1],
      30_000,
    );

    const loads = path.join(tmp, 'agent-loads.txt');
    fs.writeFileSync(path.join(tmp, 'record-loads.mjs'), RECORD_LOADS);
    const agent = start(
      [
        '--import',
        pathToFileURL(path.join(tmp, 'record-loads.mjs')).href,
        bin,
        'agent',
        '--master',
        `${url.replace('http', 'ws')}/agents`,
        '--name',
        'a1',
      ],
      { CALIPER_AGENT_TOKEN: 'package-token-0123', LOADS_FILE: loads },
    );
    await waitFor(`the agent to connect (output: ${agent.output()})`, () => agent.output().includes('connected to'), 30_000);

    // Idle, it has no helper process; its spawn helper (perl, not a second node) comes with the first command.
    const helpers = () =>
      fs
        .readFileSync(`/proc/${agent.child.pid}/task/${agent.child.pid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
    expect(helpers()).toEqual([]);

    const forced = await fetch(`${url}/api/v2/builders/hello/force`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(forced.status).toBe(202);
    const { buildrequestid } = (await forced.json()) as { buildrequestid: number };
    const build = await waitFor('the build', async () => {
      const res = (await (await fetch(`${url}/api/v2/builds?buildrequestid=${buildrequestid}`)).json()) as {
        builds: { buildid: number; complete: boolean; result: string }[];
      };
      return res.builds[0]?.complete ? res.builds[0] : null;
    });
    expect(build.result).toBe('success');
    expect(helpers()).toEqual([[findPerl(), path.join(fs.realpathSync(installed), 'dist', 'agent', 'spawn-helper.pl'), '']]);
    const steps = (await (await fetch(`${url}/api/v2/builds/${build.buildid}/steps`)).json()) as { steps: { stepid: number }[] };
    const logs = (await (await fetch(`${url}/api/v2/steps/${steps.steps[0]?.stepid}/logs`)).json()) as {
      logs: { logid: number; slug: string }[];
    };
    const stdio = logs.logs.find((l) => l.slug === 'stdio');
    expect(await (await fetch(`${url}/api/v2/logs/${stdio?.logid}/raw`)).text()).toBe('hello from the package\n');

    await stop(agent.child);
    // The bundle loads TLS and zlib only when ws needs them (a wss:// master, compressed frames;
    // scripts/build.mjs): a ws:// agent never does.
    const builtins = fs
      .readFileSync(loads, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('node:'));
    expect(builtins).toContain('node:crypto');
    expect(builtins.filter((l) => ['node:tls', 'node:https', 'node:zlib'].includes(l))).toEqual([]);
    const loaded = fs
      .readFileSync(loads, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('node:'))
      .map((l) => (l.startsWith('file:') ? new URL(l).pathname : l))
      .filter((f) => f !== path.join(tmp, 'record-loads.mjs'));
    const real = fs.realpathSync(installed);
    const files = [...new Set(loaded)].map((f) => path.relative(real, f));
    // Besides: ws's native frame masking (bufferutil, a dependency: docs/performance.md, "The 50 MB log").
    const native = files.filter((f) => /^\.\.\/(bufferutil|node-gyp-build)\//.test(f));
    expect(files.filter((f) => !native.includes(f)).sort()).toEqual(['bin/caliper.js', 'dist/agent/caliper-agent.js']);
    await stop(master.child);
  }, 90_000);

  it('the lean agent still dials wss://, loading TLS when it first needs it', async () => {
    const bin = path.join(project, 'node_modules', '.bin', 'caliper');
    // Nothing listens on port 1: the dial gets as far as TLS's connect, which must be there to fail.
    const agent = start([bin, 'agent', '--master', 'wss://127.0.0.1:1/agents', '--name', 'a1'], {
      CALIPER_AGENT_TOKEN: 'package-token-0123',
    });
    await waitFor(`a connection error (output: ${agent.output()})`, () => agent.output().includes('retrying in'), 30_000);
    expect(agent.output()).toMatch(/connection error: connect ECONNREFUSED 127\.0\.0\.1:1/);
    expect(agent.child.exitCode).toBeNull();
    await stop(agent.child);
  }, 60_000);
});

describe('in this checkout', () => {
  it("a config's `caliper` is the sources the master is made of (one copy of the classes)", async () => {
    const dir = path.join(ROOT, 'tmp');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `one-copy-${process.pid}.config.ts`);
    fs.writeFileSync(file, CONFIG.replace("from 'caliper';", "from 'caliper';\nexport { BuildFactory as Factory } from 'caliper';"));
    try {
      const config = await loadConfigFile(file);
      expect(config.builders.map((b) => b.name)).toEqual(['hello']);
      const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { Factory: unknown };
      expect(mod.Factory).toBe(BuildFactory);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
