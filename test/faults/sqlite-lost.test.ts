/**
 * The SQLite file of a running master goes away (issue 17, defect 10). SQLite goes on writing into a
 * deleted file without an error, and everything is gone when the process exits; the master used to
 * run on as if nothing had happened. Now it notices within seconds, says which file and what became
 * of it, copies what it had stored beside the path, and `caliper start` exits 1.
 *
 * A truncated -shm file (SQLite maps it into memory) kills the process with SIGBUS at SQLite's next
 * touch, before any JavaScript can run; the watcher stops the master first only if it sees it first.
 * Either way the master ends non-zero and nothing committed is lost: a restart finds it all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { createRepositories } from '../../master/db/repositories.ts';
import { watchSqlite } from '../../master/db/sqlite-watch.ts';
import { CLI, ROOT, waitFor } from '../helpers/harness.ts';

const CONFIG = `import { defineConfig, BuildFactory, ShellCommand } from 'caliper';
export default defineConfig({
  agents: [{ name: 'a1', token: 'sqlite-lost-token' }],
  builders: [{ name: 'hello', agents: ['a1'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'greet', command: 'echo hello' })) }],
});
`;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface StartedCli {
  child: ChildProcess;
  url: string;
  exited: Promise<Exit>;
  output(): string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** A scratch folder holding the config and the database file `caliper.sqlite`. */
function scratch(name: string): { dir: string; config: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `caliper-${name}-`));
  const config = path.join(ROOT, 'tmp', `sqlite-lost-${process.pid}.config.ts`);
  fs.mkdirSync(path.dirname(config), { recursive: true });
  fs.writeFileSync(config, CONFIG);
  return { dir, config, file: path.join(dir, 'caliper.sqlite') };
}

async function startCli(config: string, file: string): Promise<StartedCli> {
  const child = spawn(process.execPath, [CLI, 'start', '--config', config, '--port', '0', '--db', `sqlite:${file}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await waitFor(`master to start (output: ${out})`, () => /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]);
  return { child, url, exited, output: () => out };
}

/** Forces a build of `hello` (no agent runs it: its request stays queued) and returns the request's id. */
async function force(url: string, reason: string): Promise<number> {
  const res = await fetch(`${url}/api/v2/builders/hello/force`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reason }),
  });
  expect(res.status).toBe(202);
  const body: unknown = await res.json();
  if (typeof body !== 'object' || body === null || !('buildrequestid' in body) || typeof body.buildrequestid !== 'number') {
    throw new Error(`force answered ${JSON.stringify(body)}`);
  }
  return body.buildrequestid;
}

/** The process's exit, or a failure naming what it printed if it is still running after `ms`. */
async function exitWithin(started: StartedCli, ms: number): Promise<Exit> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`master still running ${ms} ms later; output:\n${started.output()}`)), ms);
  });
  try {
    return await Promise.race([started.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The reasons of the build requests stored in the SQLite file `file`. */
async function storedReasons(file: string): Promise<string[]> {
  let db: Database | null = null;
  try {
    db = await openDatabase(`sqlite:${file}`);
    return (await createRepositories(db).buildRequests.query({})).rows.map((r) => r.reason);
  } finally {
    await db?.close();
  }
}

/** The copy the master made of its lost database in `dir`. */
function rescuedCopy(dir: string): string {
  const copies = fs.readdirSync(dir).filter((f) => /^caliper\.sqlite\.rescued-[\dT-]+Z$/.test(f));
  expect(copies).toHaveLength(1);
  return path.join(dir, copies[0] ?? '');
}

describe('a running master whose SQLite file goes away', () => {
  it('deleted: says which file was deleted, copies what it stored beside it, exits 1', async () => {
    const { dir, config, file } = scratch('deleted');
    const started = await startCli(config, file);
    const ids = [await force(started.url, 'before the delete'), await force(started.url, 'also before')];
    fs.rmSync(file);

    const exit = await exitWithin(started, 30_000);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(started.output()).toContain(`SQLite database ${file} was deleted or moved away`);
    const copy = rescuedCopy(dir);
    expect(started.output()).toContain(copy);
    expect(fs.readdirSync(dir)).toEqual([path.basename(copy)]);

    // As the message says: the copy moved to the path, a new start goes on with everything.
    fs.renameSync(copy, file);
    const restarted = await startCli(config, file);
    const listed: unknown = await (await fetch(`${restarted.url}/api/v2/buildrequests`)).json();
    expect(listed).toMatchObject({ buildrequests: ids.map((id) => ({ buildrequestid: id })) });
    restarted.child.kill('SIGTERM');
    expect(await exitWithin(restarted, 30_000)).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('its whole folder removed (with the -wal and -shm files): the same, the copy where the folder was', async () => {
    const { dir, config, file } = scratch('folder');
    const started = await startCli(config, file);
    await force(started.url, 'before the rm -rf');
    fs.rmSync(dir, { recursive: true });

    const exit = await exitWithin(started, 30_000);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(started.output()).toContain(`SQLite database ${file} was deleted or moved away`);
    expect(await storedReasons(rescuedCopy(dir))).toEqual(['before the rm -rf']);
  }, 60_000);

  it('its -shm file truncated: the master ends non-zero (SIGBUS, or stopped by the watcher); a restart finds everything', async () => {
    const { config, file } = scratch('shm');
    const started = await startCli(config, file);
    await force(started.url, 'before the truncate');
    fs.truncateSync(`${file}-shm`, 0);
    // Some SQLite access soon after (the claimer, the API) meets the truncated map, if the watcher does not first.
    await fetch(`${started.url}/api/v2/buildrequests`).catch(() => null);

    const exit = await exitWithin(started, 30_000);
    expect(exit.signal === 'SIGBUS' || exit.code === 1, `exit ${JSON.stringify(exit)}: ${started.output()}`).toBe(true);
    if (exit.code === 1) expect(started.output()).toContain(`SQLite shared-memory file ${file}-shm was truncated`);
    expect(await storedReasons(file)).toEqual(['before the truncate']);
  }, 60_000);
});

describe('the SQLite watcher, in process', () => {
  it('tells onLost once, naming the deleted file, after copying what the database holds', async () => {
    const { dir, file } = scratch('watch-delete');
    const messages: string[] = [];
    const db = await openDatabase(`sqlite:${file}`, { onLost: (m) => messages.push(m) });
    try {
      const repos = createRepositories(db);
      const builder = (await repos.builders.sync([{ name: 'b', tags: [] }])).get('b');
      if (!builder) throw new Error('builder b was not stored');
      for (let i = 0; i < 3; i++) await repos.buildRequests.create({ builderid: builder.id, reason: `r${i}`, properties: {} }, i);
      fs.rmSync(file);
      // Writes after the delete succeed, into the deleted file: SQLite says nothing.
      await repos.buildRequests.create({ builderid: builder.id, reason: 'after', properties: {} }, 9);
      await waitFor('onLost', () => messages.length > 0);
      const copy = rescuedCopy(dir);
      expect(messages).toEqual([
        `SQLite database ${file} was deleted or moved away while the master was running: everything it had stored is copied to ${copy}; ` +
          `to go on from there, move the copy to ${file} (${file}-wal and ${file}-shm, of the lost file, are removed: ` +
          'SQLite would apply them to any file put at its path). Stopping: what the master would write now would be lost when it exits.',
      ]);
      expect(await storedReasons(copy)).toEqual(['r0', 'r1', 'r2', 'after']);
    } finally {
      await db.close();
    }
  });

  it('ignores what SQLite itself does to its files (checkpoints, growth); notices a -wal replaced', async () => {
    const { file } = scratch('watch-wal');
    const db = await openDatabase(`sqlite:${file}`);
    const messages: string[] = [];
    const copies: string[] = [];
    const watch = await watchSqlite(file, {
      copyTo: async (to) => void copies.push(to),
      onLost: (m) => messages.push(m),
      intervalMs: 3_600_000,
    });
    try {
      const repos = createRepositories(db);
      const builder = (await repos.builders.sync([{ name: 'b', tags: [] }])).get('b');
      if (!builder) throw new Error('builder b was not stored');
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            repos.buildRequests.create({ builderid: builder.id, reason: 'x'.repeat(4000), properties: {} }, i),
          ),
        );
        await db.source.query('PRAGMA wal_checkpoint(TRUNCATE)');
        await watch.check();
      }
      expect(messages).toEqual([]);

      fs.renameSync(`${file}-wal`, `${file}-wal.old`);
      fs.writeFileSync(`${file}-wal`, '');
      await watch.check();
      await watch.check();
      expect(messages).toHaveLength(1);
      expect(messages[0]).toContain(`SQLite write-ahead log ${file}-wal was replaced by another file while the master was running`);
      expect(copies).toHaveLength(1);
    } finally {
      watch.stop();
      await db.close();
    }
  });
});
