/**
 * The database's size after 10 000 builds of the sample (issue 15, item 4).
 *
 *   npm run bench:retention            (or: npx tsx bench/retention-size.ts), 10 000 builds
 *   npm run bench:retention -- --smoke  100 builds, what the test runs
 *
 * 1. One real build of master.config.ts's `sample` builder: a real master in this process, a real
 *    agent as a child process. Its steps, logs (every chunk, as written) and metric points are read
 *    back from its database: they are the template.
 * 2. The template is written N times (BENCH_RETENTION_BUILDS, default 10 000) through the master's
 *    repositories (buildset, request, build, steps, logs, chunks, metric points), into a fresh SQLite
 *    file, builds spread evenly over the last 90 days, log chunks compressed as the master stores them.
 *    A copy of that file with every compressed chunk replaced by its bytes as written is the same
 *    database without compression (nothing in the master turns compression off).
 * 3. Each file's size after VACUUM and its rows per table; then the janitor with `logs: '30d'` and the
 *    size after it (VACUUM again: SQLite keeps freed pages until then).
 * Sizes are MiB (2^20 bytes). See bench/README.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileConfig, startMaster, type RunningMaster } from 'caliper';
import sampleConfig from '../master.config.ts';
import { silentLogger } from '../core/logger.ts';
import { Results } from '../core/results.ts';
import { openDatabase, type Database } from '../master/db/data-source.ts';
import { createRepositories } from '../master/db/repositories.ts';
import { decodeLogChunk } from '../master/db/log-codec.ts';
import type { BuildRow, LogRow, MetricPointRow, StepRow } from '../master/db/entities.ts';
import { RetentionRepo } from '../master/retention/retention-repo.ts';
import { runJanitor, describeReport } from '../master/retention/janitor.ts';
import { parseDuration } from '../master/retention/duration.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SMOKE = process.argv.includes('--smoke');
const BUILDS = Number(process.env.BENCH_RETENTION_BUILDS ?? (SMOKE ? 100 : 10_000));
const SPREAD_DAYS = 90;
const LOGS_HORIZON = '30d';
const DAY_MS = 24 * 3600 * 1000;
const MiB = 1024 * 1024;
// From the sources by default, as the tests do; BENCH_CALIPER_BIN=bin/caliper.js measures the built package.
const CALIPER_BIN = process.env.BENCH_CALIPER_BIN ?? 'bin/caliper-dev.js';
const TOKEN = 'bench-retention-token-0123456789';
const AGENT = 'local'; // the name the sample builder asks for

interface TemplateLog {
  row: LogRow;
  chunks: { stream: 'o' | 'e' | 'h'; content: Buffer }[];
}
interface TemplateStep {
  row: StepRow;
  logs: TemplateLog[];
}
interface Template {
  build: BuildRow;
  steps: TemplateStep[];
  points: MetricPointRow[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

// --- 1. one real build of the sample -----------------------------------------------------------------

async function apiJson(base: string, method: 'GET' | 'POST', p: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}/api/v2${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Runs one build of the sample on a real master and agent; its database file and build id. */
async function runSampleBuild(dir: string, track: (c: ChildProcess) => void): Promise<{ file: string; buildid: number }> {
  const sample = sampleConfig.builders?.find((b) => b.name === 'sample');
  if (!sample) throw new Error('master.config.ts has no builder "sample"');
  const file = path.join(dir, 'template.sqlite');
  const config = compileConfig({ title: 'retention bench', agents: [{ name: AGENT, token: TOKEN, maxBuilds: 1 }], builders: [sample] });
  let master: RunningMaster | null = null;
  let agent: ChildProcess | null = null;
  let output = '';
  try {
    master = await startMaster(config, { port: 0, dbUrl: `sqlite:${file}`, log: silentLogger });
    const base = master.url;
    agent = spawn(
      process.execPath,
      [
        path.join(ROOT, CALIPER_BIN),
        'agent',
        '--master',
        `ws://127.0.0.1:${master.port}/agents`,
        '--name',
        AGENT,
        '--workdir',
        path.join(dir, 'agent'),
      ],
      { cwd: ROOT, env: { ...process.env, CALIPER_AGENT_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    track(agent);
    const keep = (d: Buffer) => void (output = (output + d.toString()).slice(-20_000));
    agent.stdout?.on('data', keep);
    agent.stderr?.on('data', keep);
    for (let t0 = Date.now(); ; await sleep(50)) {
      if (agent.exitCode !== null) throw new Error(`agent exited with code ${agent.exitCode}:\n${output}`);
      if (Date.now() - t0 > 30_000) throw new Error(`agent did not connect within 30 s:\n${output}`);
      const agents = (await apiJson(base, 'GET', '/agents')).agents as { name: string; connected: boolean }[];
      if (agents.some((a) => a.name === AGENT && a.connected)) break;
    }
    const { buildrequestid } = (await apiJson(base, 'POST', '/builders/sample/force', { reason: 'retention bench' })) as {
      buildrequestid: number;
    };
    for (let t0 = Date.now(); ; await sleep(100)) {
      if (Date.now() - t0 > 120_000) throw new Error(`the sample build did not finish within 120 s:\n${output}`);
      const br = ((await apiJson(base, 'GET', `/buildrequests/${buildrequestid}`)).buildrequests as { complete: boolean }[])[0];
      if (br?.complete) break;
    }
    const build = (
      (await apiJson(base, 'GET', `/builds?buildrequestid=${buildrequestid}`)).builds as {
        buildid: number;
        results: number;
        state_string: string;
      }[]
    ).at(-1);
    if (!build) throw new Error(`no build for request ${buildrequestid}`);
    if (build.results !== Results.SUCCESS && build.results !== Results.WARNINGS)
      throw new Error(`the sample build ${build.buildid} did not succeed: ${build.state_string}\n${output}`);
    return { file, buildid: build.buildid };
  } finally {
    // Stopping the master flushes its metric points to the file.
    await master?.stop();
    if (agent) await stopChild(agent);
  }
}

/** The build's rows, each log's chunks as written, and its metric points. */
async function readTemplate(file: string, buildid: number): Promise<Template> {
  const db = await openDatabase(`sqlite:${file}`);
  try {
    const repos = createRepositories(db);
    const build = await repos.builds.get(buildid);
    if (!build) throw new Error(`build ${buildid} is not in ${file}`);
    const steps: TemplateStep[] = [];
    for (const row of (await repos.steps.query({}, { buildid })).rows) {
      const logs: TemplateLog[] = [];
      const logRows = await db.source.getRepository<LogRow>('Log').find({ where: { stepid: row.id }, order: { id: 'ASC' } });
      for (const log of logRows) {
        const chunks = await db.source.query(`SELECT stream, codec, content FROM logchunks WHERE logid = ? ORDER BY id`, [log.id]);
        const decoded: TemplateLog['chunks'] = [];
        for (const c of chunks as { stream: 'o' | 'e' | 'h'; codec: string; content: Buffer }[])
          decoded.push({ stream: c.stream, content: await decodeLogChunk(c.codec, c.content, `chunk of log ${log.id}`) });
        logs.push({ row: log, chunks: decoded });
      }
      steps.push({ row, logs });
    }
    const points = await db.source.getRepository<MetricPointRow>('MetricPoint').find({ where: { buildid }, order: { id: 'ASC' } });
    return { build, steps, points };
  } finally {
    await db.close();
  }
}

// --- 2. N builds like it, through the repositories --------------------------------------------------

async function fill(db: Database, t: Template, builds: number, now: number): Promise<void> {
  const repos = createRepositories(db);
  const { id: masterid } = await repos.masters.register('retention-bench', now);
  const builderid = (await repos.builders.sync([{ name: 'sample', tags: ['example'] }])).get('sample')?.id;
  if (builderid === undefined) throw new Error('builder "sample" was not created');
  const points = db.source.getRepository<MetricPointRow>('MetricPoint');
  const duration = (t.build.complete_at ?? t.build.started_at) - t.build.started_at;
  const first = now - SPREAD_DAYS * DAY_MS;
  for (let i = 0; i < builds; i++) {
    const start = Math.round(first + (i * SPREAD_DAYS * DAY_MS) / builds);
    const shift = start - t.build.started_at;
    const set = await repos.buildsets.create(
      { scheduler: null, reason: 'force', builders: [{ builderid, name: 'sample' }], properties: {} },
      start,
    );
    const buildrequestid = set.requests[0]?.buildrequestid as number;
    await repos.buildRequests.claim(buildrequestid, masterid, start);
    const build = await repos.builds.create({
      builderid,
      buildrequestid,
      masterid,
      agent: AGENT,
      started_at: start,
      state_string: 'building',
      properties: '{}',
    });
    for (const s of t.steps) {
      const step = await repos.steps.create({
        buildid: build.id,
        number: s.row.number,
        name: s.row.name,
        started_at: (s.row.started_at ?? 0) + shift,
      });
      for (const l of s.logs) {
        const log = await repos.logs.create(step.id, l.row.name, l.row.type === 't' ? 't' : 's');
        for (const c of l.chunks) await repos.logs.appendChunk(log, c.stream, c.content);
        await repos.logs.finish(log.id, { num_lines: log.num_lines });
      }
      await repos.steps.update(step.id, {
        state_string: s.row.state_string,
        results: s.row.results,
        complete_at: s.row.complete_at === null ? null : s.row.complete_at + shift,
        hidden: s.row.hidden,
      });
    }
    await repos.builds.finish(
      build.id,
      {
        results: t.build.results ?? Results.SUCCESS,
        complete_at: start + duration,
        state_string: t.build.state_string,
        properties: t.build.properties,
      },
      { complete: buildrequestid },
    );
    if (t.points.length > 0)
      await points.insert(
        t.points.map(({ id: _id, ...p }) => ({ ...p, time: p.time + shift * 1000, buildid: build.id, build_number: build.number })),
      );
  }
}

// --- 3. sizes -----------------------------------------------------------------------------------------

/** The file's size once everything is in it and its free pages are gone. */
async function vacuumedSize(db: Database, file: string): Promise<number> {
  await db.source.query('PRAGMA wal_checkpoint(TRUNCATE)');
  await db.source.query('VACUUM');
  await db.source.query('PRAGMA wal_checkpoint(TRUNCATE)');
  const wal = fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0;
  return fs.statSync(file).size + wal;
}

async function rowsPerTable(db: Database): Promise<Map<string, number>> {
  const tables = (await db.source.query(
    `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'migrations' ORDER BY name`,
  )) as { name: string }[];
  const rows = new Map<string, number>();
  for (const { name } of tables) {
    const [r] = (await db.source.query(`SELECT COUNT(*) AS n FROM "${name}"`)) as { n: number }[];
    if (r && r.n > 0) rows.set(name, Number(r.n));
  }
  return rows;
}

/** Each table's pages with its indexes' (SQLite's dbstat), in bytes. */
async function bytesPerTable(db: Database): Promise<Map<string, number>> {
  const rows = (await db.source.query(
    `SELECT m.tbl_name AS name, SUM(s.pgsize) AS bytes FROM dbstat s JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name`,
  )) as { name: string; bytes: number }[];
  return new Map(rows.map((r) => [r.name, Number(r.bytes)]));
}

interface Measured {
  label: string;
  before: number;
  after: number;
  rows: Map<string, number>;
  bytes: Map<string, number>;
  chunkBytes: number;
  janitor: string;
}

/** Sizes, rows and the janitor's pass on the database in `file` (which it changes). */
async function measure(file: string, label: string, now: number): Promise<Measured> {
  const db = await openDatabase(`sqlite:${file}`);
  try {
    const before = await vacuumedSize(db, file);
    const rows = await rowsPerTable(db);
    const bytes = await bytesPerTable(db);
    const [stored] = (await db.source.query('SELECT COALESCE(SUM(LENGTH(content)), 0) AS n FROM logchunks')) as { n: number }[];
    const repos = createRepositories(db);
    const logs = parseDuration(LOGS_HORIZON) as number;
    const report = await runJanitor(
      { retention: new RetentionRepo(db.source), artifacts: repos.artifacts, masterBasedir: path.dirname(file), now: () => now },
      { logs },
    );
    const after = await vacuumedSize(db, file);
    return { label, before, after, rows, bytes, chunkBytes: Number(stored?.n ?? 0), janitor: describeReport(report) };
  } finally {
    await db.close();
  }
}

/**
 * The same database with every chunk kept raw, as a master without compression would have written
 * it: a copy of `from` whose compressed chunks are replaced by their bytes as written (the same rows,
 * ids and pages otherwise, so the difference is the codec's alone).
 */
async function rawCopy(from: string, to: string): Promise<void> {
  const db = await openDatabase(`sqlite:${from}`);
  try {
    await db.source.query('VACUUM INTO ?', [to]);
  } finally {
    await db.close();
  }
  const copy = await openDatabase(`sqlite:${to}`);
  try {
    for (let after = 0; ;) {
      const page = (await copy.source.query(`SELECT id, content FROM logchunks WHERE codec = 'br' AND id > ? ORDER BY id LIMIT 1000`, [
        after,
      ])) as {
        id: number;
        content: Buffer;
      }[];
      if (page.length === 0) break;
      await copy.source.transaction(async (em) => {
        for (const c of page) {
          const content = await decodeLogChunk('br', c.content, `chunk ${c.id}`);
          await em.query(`UPDATE logchunks SET codec = 'raw', content = ? WHERE id = ?`, [content, c.id]);
        }
      });
      after = page[page.length - 1]?.id ?? after;
    }
  } finally {
    await copy.close();
  }
}

function printTables(t: Template, runs: Measured[]): void {
  const rawBytes = t.steps.reduce((a, s) => a + s.logs.reduce((b, l) => b + l.chunks.reduce((c, ch) => c + ch.content.length, 0), 0), 0);
  console.log(
    `template: ${t.steps.length} steps, ${t.steps.reduce((a, s) => a + s.logs.length, 0)} logs, ` +
      `${t.steps.reduce((a, s) => a + s.logs.reduce((b, l) => b + l.chunks.length, 0), 0)} chunks, ${rawBytes} log bytes, ${t.points.length} metric points`,
  );
  console.log(
    `steps: ${t.steps.map((s) => `${s.row.name} ${s.logs.reduce((b, l) => b + l.chunks.reduce((c, ch) => c + ch.content.length, 0), 0)} B`).join(', ')}`,
  );
  console.log('');
  console.log(`| ${BUILDS} builds over ${SPREAD_DAYS} days | ${runs.map((r) => r.label).join(' | ')} |`);
  console.log(`|---|${runs.map(() => '---:').join('|')}|`);
  const row = (label: string, cells: string[]) => console.log(`| ${label} | ${cells.join(' | ')} |`);
  row(
    'file size after VACUUM (MiB)',
    runs.map((r) => mib(r.before)),
  );
  row(
    'file size after VACUUM (bytes)',
    runs.map((r) => String(r.before)),
  );
  row(
    'log chunks as stored (bytes)',
    runs.map((r) => String(r.chunkBytes)),
  );
  row(
    'log chunks as stored (MiB)',
    runs.map((r) => mib(r.chunkBytes)),
  );
  row(
    `file size after janitor logs '${LOGS_HORIZON}' (MiB)`,
    runs.map((r) => mib(r.after)),
  );
  row(
    'bytes per build',
    runs.map((r) => String(Math.round(r.before / BUILDS))),
  );
  const tables = [...new Set(runs.flatMap((r) => [...r.rows.keys()]))].sort();
  for (const name of tables)
    row(
      `rows: ${name}`,
      runs.map((r) => String(r.rows.get(name) ?? 0)),
    );
  for (const name of tables)
    row(
      `MiB: ${name} with its indexes`,
      runs.map((r) => mib(r.bytes.get(name) ?? 0)),
    );
  console.log('');
  for (const r of runs) console.log(`${r.label}: ${r.janitor}`);
}

// ---------------------------------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-retention-'));
const children: ChildProcess[] = [];
process.once('SIGINT', () => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(130);
});
let exitCode = 0;
try {
  const t0 = performance.now();
  const { file, buildid } = await runSampleBuild(tmp, (c) => children.push(c));
  const template = await readTemplate(file, buildid);
  console.log(
    `one real sample build in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${os.cpus().length} CPUs, node ${process.version}`,
  );
  const now = Date.now();
  const brFile = path.join(tmp, 'br.sqlite');
  const rawFile = path.join(tmp, 'raw.sqlite');
  const db = await openDatabase(`sqlite:${brFile}`);
  // This file is thrown away: no fsync while filling (what is stored, and so its size, is the same).
  await db.source.query('PRAGMA synchronous = OFF');
  const t1 = performance.now();
  try {
    await fill(db, template, BUILDS, now);
  } finally {
    await db.close();
  }
  console.log(`${BUILDS} builds written through the repositories in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  await rawCopy(brFile, rawFile);
  const runs = [await measure(brFile, 'compressed (br)', now), await measure(rawFile, 'raw', now)];
  printTables(template, runs);
  const [br, raw] = runs;
  // At smoke size the chunks save a few KiB, which page allocation can swallow: equal is no failure there.
  if (br && raw && (br.before > raw.before || (!SMOKE && br.before === raw.before))) {
    console.error(`compression did not make the file smaller: ${br.before} >= ${raw.before} bytes`);
    exitCode = 1;
  }
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(exitCode);
