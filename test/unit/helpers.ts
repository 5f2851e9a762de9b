/** Typed fixture builders shared by the unit suites. */
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { createRepositories, type Repositories } from '../../master/db/repositories.ts';
import type { ResultFlags } from '../../core/results.ts';
import type { BuilderRow, BuildRequestRow, BuildRow, StepRow } from '../../master/db/entities.ts';

/** A fresh in-memory SQLite database, migrated, with its repositories. */
export async function memoryDb(): Promise<{ db: Database; repos: Repositories }> {
  const db = await openDatabase('sqlite::memory:');
  return { db, repos: createRepositories(db) };
}

export async function createBuilder(repos: Repositories, name: string, tags: string[] = []): Promise<BuilderRow> {
  const rows = await repos.builders.sync([{ name, tags }]);
  const row = rows.get(name);
  if (!row) throw new Error(`builder ${name} was not created`);
  return row;
}

export interface StepFixture {
  builder: BuilderRow;
  request: BuildRequestRow;
  build: BuildRow;
  step: StepRow;
}

/** builder -> build request -> build -> step: the rows a log needs for its foreign keys. */
export async function createStepRow(repos: Repositories, builderName = 'b1'): Promise<StepFixture> {
  const builder = await createBuilder(repos, builderName);
  const request = await repos.buildRequests.create({ builderid: builder.id, reason: 'test', properties: {} }, 1_000);
  const build = await repos.builds.create({
    builderid: builder.id,
    buildrequestid: request.id,
    masterid: 1,
    agent: 'a1',
    started_at: 2_000,
    state_string: 'running',
    properties: '{}',
  });
  const step = await repos.steps.create({ buildid: build.id, number: 0, name: 'compile', started_at: 3_000 });
  return { builder, request, build, step };
}

export function flags(overrides: Partial<ResultFlags> = {}): ResultFlags {
  return {
    haltOnFailure: false,
    flunkOnFailure: true,
    warnOnFailure: false,
    flunkOnWarnings: false,
    warnOnWarnings: true,
    ...overrides,
  };
}

/** Lets a promise be resolved from outside, to hold a sink until the test says so. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(e: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls until `probe` returns something truthy, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 2_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
