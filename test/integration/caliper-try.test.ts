/**
 * `caliper try` (issue 14, item 3) as a user runs it: a builder's steps on this machine, no master,
 * database or agent. Exit 0 for a passing builder and 1 for a failing one; haltOnFailure, alwaysRun,
 * doStepIf, properties from --property and from steps, measured values printed, a Trigger refused
 * with a clear message, a YAML project's builder, and --matrix refused as not yet available.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/harness.ts';

const DEV_CLI = path.join(ROOT, 'bin/caliper-dev.js');
// Under the checkout, where the config's `import ... from 'caliper'` resolves.
const dir = fs.mkdtempSync(path.join(ROOT, 'tmp', 'caliper-try-'));
const workdir = path.join(dir, 'work');
const SECRET = 'try-s3cret-value';

fs.mkdirSync(path.join(dir, 'projects'));
fs.writeFileSync(
  path.join(dir, 'projects', 'app.yml'),
  `runs:
  - name: yaml-app
    steps:
      - name: count
        command: printf 'files=3\\nlines=120\\n'
        measure: { keys: [files, lines] }
      - name: greet
        command: 'echo "hello %(prop:who:-nobody)s"'
`,
);
const config = path.join(dir, 'master.config.ts');
fs.writeFileSync(
  config,
  `import { defineConfig, BuildFactory, ShellCommand, MeasureShellCommand, SetPropertyFromCommand, Trigger,
  triggerableScheduler, interpolate, yamlProjects } from 'caliper';
const projects = yamlProjects('projects/');
export default defineConfig({
  secrets: { token: ${JSON.stringify(SECRET)} },
  agents: [{ name: 'a1', token: 'try-agent-token' }],
  builders: [
    {
      name: 'passes',
      properties: { colour: 'blue' },
      factory: new BuildFactory()
        .addStep(new ShellCommand({ name: 'greet', command: interpolate('echo "hi %(prop:who)s in %(prop:colour)s, pwd=$PWD"') }))
        .addStep(new SetPropertyFromCommand({ name: 'version', command: 'echo 4.5.6', property: 'version' }))
        .addStep(new MeasureShellCommand({ name: 'size', command: 'echo 42', unit: 'bytes' }))
        .addStep(new ShellCommand({ name: 'never', command: 'exit 9', doStepIf: (p) => p.get('who') === 'nobody' }))
        .addStep(new ShellCommand({ name: 'tolerated', command: 'exit 3', flunkOnFailure: false, hideStepIf: true }))
        .addStep(new ShellCommand({ name: 'secret', command: interpolate('echo "token=%(secret:token)s v=%(prop:version)s"') })),
    },
    {
      name: 'fails',
      factory: new BuildFactory()
        .addStep(new ShellCommand({ name: 'broken', command: 'echo about to fail >&2; exit 5', haltOnFailure: true }))
        .addStep(new ShellCommand({ name: 'skipped after halt', command: 'echo must not run' }))
        .addStep(new ShellCommand({ name: 'cleanup', command: 'echo cleaning up', alwaysRun: true })),
    },
    {
      name: 'triggers',
      factory: new BuildFactory().addStep(new Trigger({ schedulerNames: ['downstream'] })),
    },
    ...projects.builders,
  ],
  schedulers: [triggerableScheduler({ name: 'downstream', builderNames: ['fails'] }), ...projects.schedulers],
});
`,
);

function tryBuilder(...args: string[]) {
  const r = spawnSync(process.execPath, [DEV_CLI, 'try', ...args, '--config', config], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('caliper try', () => {
  it('a passing builder exits 0: properties, measured values, doStepIf, a hidden tolerated failure, secrets masked', () => {
    const r = tryBuilder('passes', '--property', 'who=ada', '--workdir', workdir);
    expect(r.stderr).not.toContain(SECRET);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain(SECRET);
    // --property over nothing, the builder's own property, and the builder's directory under --workdir.
    expect(r.stdout).toContain(`hi ada in blue, pwd=${path.join(workdir, 'passes', 'build')}\n`);
    expect(r.stdout).toContain('measured size = 42 bytes');
    expect(r.stdout).toContain('token=******** v=4.5.6');
    expect(r.stdout).toMatch(/── never: skipped/);
    expect(r.stdout).toMatch(/── tolerated: failure \(exit code 3\)/);
    const summary = r.stdout.slice(r.stdout.indexOf('══ summary'));
    expect(summary).toMatch(/success\s+greet/);
    expect(summary).toMatch(/skipped\s+never/);
    expect(summary).not.toMatch(/tolerated/); // hideStepIf
    expect(summary).toContain('size = 42 bytes  (step size)');
    expect(summary).toContain('version = "4.5.6"  (version)');
    expect(summary).toContain('result: success (build successful)');
  });

  it('a failing builder exits 1: haltOnFailure stops it, alwaysRun still runs, stderr goes to stderr', () => {
    const r = tryBuilder('fails', '--workdir', workdir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('about to fail\n');
    expect(r.stdout).toMatch(/── broken: failure \(exit code 5\)/);
    expect(r.stdout).toContain('skipped after halt: not run (the build halted)');
    expect(r.stdout).not.toContain('must not run');
    expect(r.stdout).toContain('cleaning up\n');
    expect(r.stdout).toContain('result: failure (failed broken)');
  });

  it('a Trigger step is refused with a clear message, and the build fails', () => {
    const r = tryBuilder('triggers', '--workdir', workdir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('caliper try runs one build on this machine: it cannot trigger scheduler "downstream"');
    expect(r.stdout).toContain('result: exception');
  });

  it("a YAML project's builder runs too, with the values it measures", () => {
    const r = tryBuilder('yaml-app', '--workdir', workdir, '--property', 'who=yaml');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('measured files = 3');
    expect(r.stdout).toContain('measured lines = 120');
    expect(r.stdout).toContain('hello yaml\n');
  });

  it('says what is wrong on the command line and exits 2: unknown builder, bad property, --matrix', () => {
    const unknown = tryBuilder('nope');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('no builder named "nope"');
    expect(unknown.stderr).toContain('builders: passes, fails, triggers, yaml-app');
    const badProperty = tryBuilder('passes', '--property', 'novalue');
    expect(badProperty.status).toBe(2);
    expect(badProperty.stderr).toContain('--property novalue: expected NAME=VALUE');
    const matrix = tryBuilder('passes', '--matrix', 'node=20');
    expect(matrix.status).toBe(2);
    expect(matrix.stderr).toContain('--matrix node=20: builder "passes" has no matrix');
  });
});
