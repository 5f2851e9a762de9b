/**
 * YAML projects (issue 14, item 1): the shipped example's projects/sample.yml builds the sample on a
 * real agent beside the TypeScript builder, with its measured values and lint counts; a project with
 * a syntax error and one with an unknown key are refused with file:line:column and the key, by the
 * loader and by `caliper check-config`, whatever the working directory.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../master/config/loader.ts';
import { startMaster, type RunningMaster } from '../../master/master.ts';
import { ConfigError } from '../../core/errors/index.ts';
import { silentLogger } from '../../core/logger.ts';
import { testDatabases } from '../helpers/databases.ts';
import { ROOT, api, forceAndWait, startAgent, type AgentProcess } from '../helpers/harness.ts';

const DEV_CLI = path.join(ROOT, 'bin/caliper-dev.js');
// Under the checkout, where the configs' `import ... from 'caliper'` resolves.
const tmp = fs.mkdtempSync(path.join(ROOT, 'tmp', 'yaml-projects-'));
const sqlite = testDatabases().find((d) => d.kind === 'sqlite');

/** A config in its own folder whose projects/ holds `files`; returns the config's path. */
function projectConfig(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, 'projects'), { recursive: true });
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'projects', file), text);
  const config = path.join(dir, 'master.config.ts');
  fs.writeFileSync(
    config,
    `import { defineConfig, yamlProjects } from 'caliper';
const projects = yamlProjects('projects/');
export default defineConfig({
  agents: [{ name: 'y1', token: 'yaml-agent-token', labels: ['linux'] }],
  builders: projects.builders,
  schedulers: projects.schedulers,
});
`,
  );
  return config;
}

const GOOD_RUN = `runs:
  - name: fine
    command: echo fine
`;

describe('YAML projects refused with file:line:column', () => {
  const config = projectConfig('bad', {
    'a-syntax.yml': `runs:
  - name: app
    command: [echo, "unclosed
  - name: other
`,
    'b-unknown.yml': `triggers:
  - type: force
runs:
  - name: app
    labels: [linux]
    steps:
      - name: build
        comand: make
`,
    'c-good.yml': GOOD_RUN,
  });

  it('the loader reports both files at once, each with its line, column and key', async () => {
    const error = await loadConfigFile(config).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map(
      (i) => `${path.basename(i.path.split(':')[0] ?? '')}:${i.path.split(':').slice(1).join(':')} ${i.message}`,
    );
    // The yaml library may say more than one thing about a broken line: every one is placed.
    expect(paths.filter((p) => p.startsWith('a-syntax.yml')).length).toBeGreaterThan(0);
    for (const p of paths.filter((p) => p.startsWith('a-syntax.yml'))) expect(p).toMatch(/^a-syntax\.yml:[3-5]:\d+ YAML syntax: /);
    expect(paths.filter((p) => p.startsWith('b-unknown.yml'))).toEqual(['b-unknown.yml:8:9: runs[0].steps[0].comand unknown key "comand"']);
    expect(paths.filter((p) => p.startsWith('c-good.yml'))).toEqual([]);
  });

  it('caliper check-config prints them and exits 1, run from another folder', () => {
    // A folder of its own: os.tmpdir() itself may hold the checkout (a clone in /tmp), and paths under
    // the working directory are printed relative to it.
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-elsewhere-'));
    const r = spawnSync(process.execPath, [DEV_CLI, 'check-config', '--config', config], { cwd: elsewhere, encoding: 'utf8' });
    fs.rmSync(elsewhere, { recursive: true, force: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `${path.join(path.dirname(config), 'projects', 'b-unknown.yml')}:8:9: runs[0].steps[0].comand: unknown key "comand"`,
    );
    expect(r.stderr).toMatch(/a-syntax\.yml:\d+:\d+: YAML syntax: /);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a step option the step refuses is placed where the YAML wrote it (the compile pipeline, mapped back)', async () => {
    const bad = projectConfig('bad-option', {
      'app.yml': `runs:
  - name: app
    timeout: 30
    steps:
      - name: size
        command: wc -c < out
        measure: { metric: 9lives }
      - name: say
        command: 'echo %(prop:who'
`,
    });
    const error = (await loadConfigFile(bad).catch((e: unknown) => e)) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    const lines = error.issues.map((i) => `${i.path.replace(/^.*app\.yml:/, '')} ${i.message}`);
    expect(lines).toEqual([
      expect.stringMatching(/^7:28: runs\[0\]\.steps\[0\]\.measure\.metric series names: /),
      expect.stringMatching(/^9:18: runs\[0\]\.steps\[1\]\.command interpolate\("echo %\(prop:who"\): /),
    ]);
  });
});

describe('the shipped example: projects/sample.yml on a real agent', () => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    if (!sqlite) throw new Error('no SQLite test database');
    const config = await loadConfigFile(path.join(ROOT, 'master.config.ts'));
    expect(config.builders.map((b) => b.name)).toEqual(['sample', 'sample-yaml']);
    master = await startMaster(config, {
      port: 0,
      host: '127.0.0.1',
      dbUrl: await sqlite.create(),
      basedir: tmp,
      log: silentLogger,
      name: `test-yaml-projects-${process.pid}`,
      shutdownTimeoutMs: 3000,
    });
    agent = await startAgent(master, 'local', 'local-dev-token', ['--labels', 'linux']);
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
    if (agent) fs.rmSync(agent.workdir, { recursive: true, force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('builds the sample: typed steps, measured values and lint counts as properties, its schedulers listed', async () => {
    const { build, steps } = await forceAndWait(master, 'sample-yaml', { reason: 'yaml project' });
    expect(steps.map((s: { name: string; result: string }) => [s.name, s.result])).toEqual([
      ['checkout', 'success'],
      ['version', 'success'],
      ['test', 'success'],
      ['lint', 'warnings'],
      ['build', 'success'],
      ['bundle_size', 'success'],
      ['source_stats', 'success'],
      ['announce', 'success'],
    ]);
    expect(build.result).toBe('warnings');
    const full = (await api(master).get(`/builds/${build.buildid}?property=*`)).body.builds[0];
    const props = full.properties as Record<string, [unknown, string]>;
    expect(props.version?.[0]).toBe('1.2.0');
    expect(props.lint_warnings?.[0]).toBe(1);
    expect(props.bundle_size?.[0]).toBeGreaterThan(100);
    expect(props.source_lines?.[0]).toBeGreaterThan(5);
    const builder = (await api(master).get('/builders/sample-yaml')).body.builders[0];
    expect(builder.tags).toContain('sample');
  });
});
