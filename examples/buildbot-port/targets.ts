/**
 * One builder per game to test, from targets.json (the original's director/targets.py): each
 * fetches the binary from the master, brings the game's files up to date from the agent's store
 * with rsync, then runs every listed movie as its own step.
 */
import fs from 'node:fs';
import { z } from 'zod';
import { BuildFactory, FileDownload, ShellCommand, type CaliperConfig, type Step } from 'caliper';
import { MASTER_BINARY, WORKER_BINARY } from './build-factory.ts';
import { directorTest } from './director-test.ts';
import { settings } from './settings.ts';

type BuilderInput = CaliperConfig['builders'][number];

const targetSchema = z.strictObject({
  name: z.string().min(1),
  directory: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a single directory name'),
  game_id: z.string().min(1),
  platform: z.string().min(1),
  version: z.string().min(1),
  movienames: z.array(z.string().min(1)).min(1),
  autodetect: z.boolean().default(false),
  debugflags: z.string().default('fewframesonly,fast'),
});
export type TestTarget = z.infer<typeof targetSchema>;

/** The targets of `file`; a mistake stops the master with the entry and key it is in. */
export function readTargets(file: string): TestTarget[] {
  const parsed = z.array(targetSchema).safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`${file}: [${first?.path.join('.') ?? ''}] ${first?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/**
 * The builder's name. The original's was `Name:platform (version)`; Caliper's builder names are
 * letters, digits, `_ . -` and single spaces, so `Spaceship Warlock p1/3:win (D3)` becomes
 * `Spaceship Warlock p1-3 win D3`.
 */
export function targetBuilderName(t: TestTarget): string {
  return `${t.name} ${t.platform} ${t.version}`
    .replace(/[^A-Za-z0-9_.-]+/g, (run) => (run.trim() === '' ? ' ' : '-'))
    .replace(/ +/g, ' ')
    .trim();
}

/** Hands the binary the build builder uploaded from the master to the agent, executable. */
export function downloadBinary(): Step[] {
  return [new FileDownload({ name: 'download', mastersrc: MASTER_BINARY, workerdest: WORKER_BINARY, mode: 0o755 })];
}

function movieArgs(t: TestTarget, movie: string): string[] {
  const args = ['-c', 'scummvm.conf', `--screenshotpath=${settings.screenshotDir}`, `--start-movie=${movie}`];
  if (t.debugflags) args.push(`--debugflags=${t.debugflags}`);
  if (t.autodetect) args.push(`--initial-cfg=${settings.initialConfig}`, '-p', '.', '--auto-detect');
  else args.push(t.game_id);
  return args;
}

export function targetBuilder(t: TestTarget, agents: string[]): BuilderInput {
  const store = `${settings.targetsBaseDir.replace(/\/?$/, '/')}${t.directory}/`;
  return {
    name: targetBuilderName(t),
    agents,
    factory: new BuildFactory()
      .addSteps(downloadBinary())
      .addStep(
        new ShellCommand({
          name: 'rsync',
          description: 'Synchronise files with store',
          command: ['rsync', '-av', '--delete', store, t.directory],
        }),
      )
      .addSteps(
        t.movienames.map((movie) =>
          directorTest({ movie, args: movieArgs(t, movie), workdir: `build/${t.directory}`, binary: `../${WORKER_BINARY}` }),
        ),
      ),
  };
}
