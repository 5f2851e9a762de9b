/**
 * A master.config.ts in a project folder outside the checkout, as a user who installed caliper has
 * it: `caliper` in the folder's node_modules (here a symlink to this repo), and a package.json
 * without `"type": "module"`, or none at all. Both load as ESM (issue 12, item 6).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLI, ROOT, waitFor } from '../helpers/harness.ts';

const CONFIG = `import { defineConfig, BuildFactory } from 'caliper';
import { greet } from './steps.ts';
import shared from './shared.js';

// Type syntax and a top-level await: neither works in a config compiled to CommonJS.
const word: string = await Promise.resolve('outside');
interface Unused { a: string }

export default defineConfig({
  agents: [{ name: shared.agentName, token: 'dev-token' }],
  builders: [{ name: 'hello', agents: ['a1'], factory: new BuildFactory().addStep(greet(word)) }],
});
`;

// A helper module of the project, imported by path: loaded as ESM with the config.
const STEPS = `import { ShellCommand } from 'caliper';
export const greet = (word: string): ShellCommand => new ShellCommand({ name: 'greet', command: \`echo hello-\${word}\` });
`;

// A CommonJS helper keeps working beside the config.
const SHARED = `module.exports = { agentName: 'a1' };\n`;

const folders: string[] = [];

/** A project folder with caliper in its node_modules; `packageJson` null writes none. */
function project(packageJson: Record<string, unknown> | null): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-outside-'));
  folders.push(dir);
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'caliper'), 'dir');
  if (packageJson) fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(packageJson));
  fs.writeFileSync(path.join(dir, 'master.config.ts'), CONFIG);
  fs.writeFileSync(path.join(dir, 'steps.ts'), STEPS);
  fs.writeFileSync(path.join(dir, 'shared.js'), SHARED);
  return dir;
}

afterAll(() => {
  for (const dir of folders) fs.rmSync(dir, { recursive: true, force: true });
});

describe('caliper check-config on a config outside the checkout', () => {
  it.each([
    ['a package.json without "type"', { name: 'proj', version: '1.0.0' }],
    ['a package.json with "type": "commonjs"', { name: 'proj', type: 'commonjs' }],
    ['no package.json', null],
  ])('loads it with %s, from the folder and from elsewhere', (_label, packageJson) => {
    const dir = project(packageJson);
    const fromElsewhere = spawnSync(process.execPath, [CLI, 'check-config', '--config', path.join(dir, 'master.config.ts')], {
      encoding: 'utf8',
      cwd: os.tmpdir(),
    });
    expect(fromElsewhere.stderr).toBe('');
    expect(fromElsewhere.stdout).toContain('OK (1 builders, 1 agents');
    expect(fromElsewhere.status).toBe(0);
    const inFolder = spawnSync(process.execPath, [CLI, 'check-config'], { encoding: 'utf8', cwd: dir });
    expect(inFolder.stderr).toBe('');
    expect(inFolder.status).toBe(0);
  });
});

describe('caliper start on a config outside the checkout', () => {
  let child: ChildProcess | null = null;

  afterEach(async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      if (running.pid !== undefined) process.kill(-running.pid, 'SIGKILL');
    });
  });

  it('runs a build of it with a local agent (package.json without "type")', async () => {
    const dir = project({ name: 'proj', version: '1.0.0' });
    const db = `sqlite:${path.join(dir, 'caliper.sqlite')}`;
    const started = spawn(process.execPath, [CLI, 'start', '--port', '0', '--db', db, '--with-agent'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child = started;
    let out = '';
    started.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    started.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const url = await waitFor(`master to start (output: ${out})`, () => /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]);
    const get = async (p: string): Promise<Record<string, Array<Record<string, unknown>>>> => (await fetch(`${url}/api/v2${p}`)).json();
    await waitFor('local agent', async () => (await get('/agents')).agents?.[0]?.connected === true);
    const forced = await fetch(`${url}/api/v2/builders/hello/force`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(forced.status).toBe(202);
    const build = await waitFor('build to finish', async () => {
      const b = (await get('/builds')).builds?.[0];
      return b?.complete === true ? b : null;
    });
    expect(build.result).toBe('success');
    const steps = (await get(`/builds/${String(build.buildid)}/steps`)).steps ?? [];
    const logs = (await get(`/steps/${String(steps[0]?.stepid)}/logs`)).logs ?? [];
    const raw = await (await fetch(`${url}/api/v2/logs/${String(logs[0]?.logid)}/raw`)).text();
    expect(raw).toContain('hello-outside');
  });
});
