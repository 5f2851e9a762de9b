/**
 * Counts what a SQLite database commits, on the real driver: a COMMIT, or a write outside a
 * transaction (its own commit). Every better-sqlite3 statement shares one prototype, those TypeORM
 * prepared and cached before too, so wrapping its run/all/get counts them all. `restore()` puts the
 * prototype back (vitest runs files in one process: isolate is off).
 */
import type { DataSource } from 'typeorm';
import { expect } from 'vitest';
import { Results } from '../../core/results.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import type { BuildFixture } from './build-fixture.ts';

/** The parts of better-sqlite3's Statement counted here. */
interface Statement {
  source: string;
  database: { inTransaction: boolean };
}
type Run = (this: Statement, ...a: unknown[]) => unknown;

export interface CommitCounter {
  /** Commits since the last reset. */
  readonly count: number;
  reset(): void;
  restore(): void;
}

export function countSqliteCommits(source: DataSource): CommitCounter {
  const connection = (source.driver as unknown as { databaseConnection: { prepare(sql: string): object } }).databaseConnection;
  const proto = Object.getPrototypeOf(connection.prepare('SELECT 1')) as Record<'run' | 'all' | 'get', Run>;
  let count = 0;
  const restore: (() => void)[] = [];
  for (const m of ['run', 'all', 'get'] as const) {
    const call = proto[m];
    proto[m] = function (this: Statement, ...a: unknown[]) {
      if (/^\s*COMMIT/i.test(this.source) || (/^\s*(INSERT|UPDATE|DELETE)/i.test(this.source) && !this.database.inTransaction)) count++;
      return call.apply(this, a);
    };
    restore.push(() => (proto[m] = call));
  }
  return {
    get count() {
      return count;
    },
    reset: () => (count = 0),
    restore: () => restore.forEach((r) => r()),
  };
}

/** The data source a BuildBench's repositories hold (a private field, read by tests only). */
export function sourceOf(repos: { builds: unknown }): DataSource {
  return (repos.builds as { source: DataSource }).source;
}

/** The three `true` steps s1–s3 the commit-counting tests run: each command a step. */
export const threeTrueSteps = () => [1, 2, 3].map((n) => new ShellCommand({ name: `s${n}`, command: 'true' }));

/** What a build of threeTrueSteps() must have stored, however its writes were grouped: steps ended, logs closed, request complete. */
export async function expectThreeStepsStored(f: BuildFixture): Promise<void> {
  const steps = await f.steps();
  expect(steps.map((s) => [s.number, s.name, s.results, s.complete_at !== null])).toEqual([
    [0, 's1', Results.SUCCESS, true],
    [1, 's2', Results.SUCCESS, true],
    [2, 's3', Results.SUCCESS, true],
  ]);
  for (const s of steps) expect((await f.log(s.name, 'stdio')).row).toMatchObject({ complete: true, num_lines: 0 });
  expect(await f.storedRequest()).toMatchObject({ complete: true, results: Results.SUCCESS });
}
