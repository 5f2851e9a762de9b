/**
 * Log chunks are compressed at rest (master/db/log-codec.ts) and read back byte-exact: through the
 * raw and paged API, from a real agent, on SQLite and PostgreSQL; rows stored before compression
 * (migration 0016) still read as they were.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, startAgent, startTestMaster, stepLog, type AgentProcess } from '../helpers/harness.ts';
import { internalsOf } from '../../master/testing.ts';
import type { RunningMaster } from '../../master/master.ts';
import { BuildFactory, ShellCommand } from '../../index.ts';

const TOKEN = 'log-compression-token-0123';
// Bytes that are not UTF-8 (a lone continuation byte, 0xff, 0xfe), a line split across writes, stderr
// between stdout, and enough repetitive text that compression has something to do.
const MIXED = [
  `printf 'caf\\303\\251 \\377\\376\\200 not utf-8\\n'`,
  `i=0; while [ $i -lt 3000 ]; do echo "compiling module $i of 3000: src/lib/file_$i.ts ... ok"; i=$((i+1)); done`,
  `printf 'partial line without newline'; printf ' continued\\n' >&2; printf '\\000\\001 binary tail'`,
].join('; ');
// About 52 MB of distinct lines (seq's numbers), so no two chunks compress alike.
const BIG = 'seq 1 6600000';

function expectedBytes(command: string): Buffer {
  const out = spawnSync('sh', ['-c', command], { maxBuffer: 128 * 1024 * 1024 });
  return Buffer.concat([out.stdout, out.stderr]);
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.each(testDatabases())('log compression on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'a1', token: TOKEN }],
        builders: [
          { name: 'mixed', agents: ['a1'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'mixed', command: MIXED })) },
          { name: 'big', agents: ['a1'], factory: new BuildFactory().addStep(new ShellCommand({ name: 'big', command: BIG })) },
        ],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'a1', TOKEN);
  });
  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  async function storedChunks(logid: number) {
    const rows = (await internalsOf(master).db.source.query(
      `SELECT codec, LENGTH(content) AS n FROM logchunks WHERE logid = ${Number(logid)} ORDER BY id`,
    )) as { codec: string; n: number | string }[];
    return rows.map((r) => ({ codec: r.codec, bytes: Number(r.n) }));
  }

  async function stdioOf(build: { steps: { stepid: number }[] }) {
    const stepid = build.steps[0]!.stepid;
    const logs = (await api(master).get(`/steps/${stepid}/logs`)).body.logs as { logid: number; slug: string; num_bytes: number }[];
    return logs.find((l) => l.slug === 'stdio')!;
  }

  it('serves non-UTF-8 bytes, stderr and an unterminated line exactly as written, stored compressed', async () => {
    const build = await forceAndWait(master, 'mixed');
    const expected = spawnSync('sh', ['-c', MIXED]);
    const raw = await stepLog(master, build.steps[0].stepid);
    expect(raw.length).toBe(expected.stdout.length + expected.stderr.length);
    expect(raw.includes(Buffer.from([0xff, 0xfe, 0x80]))).toBe(true);
    // stdout and stderr interleave as they happened; each stream's bytes are exactly the command's.
    const log = await stdioOf(build);
    const streams: Record<string, Buffer[]> = { o: [], e: [] };
    for await (const c of internalsOf(master).repos.logs.readChunks(log.logid)) streams[c.stream]?.push(c.content);
    expect(Buffer.concat(streams.o!)).toEqual(expected.stdout);
    expect(Buffer.concat(streams.e!)).toEqual(expected.stderr);
    expect(Buffer.concat(streams.o!).subarray(-14)).toEqual(Buffer.from('\0\x01 binary tail', 'latin1'));

    const chunks = await storedChunks(log.logid);
    expect(chunks.some((c) => c.codec === 'br')).toBe(true);
    const atRest = chunks.reduce((n, c) => n + c.bytes, 0);
    expect(atRest).toBeLessThan(log.num_bytes / 3);

    // The paged read (the UI's) finds every line, the one after the compressed block included.
    const page = (await api(master).get(`/logs/${log.logid}/contents?offset=1&limit=3000`)).body;
    const lines = (page.logchunks[0].content as string).split('\n');
    expect(lines[0]).toBe('compiling module 0 of 3000: src/lib/file_0.ts ... ok');
    expect(lines[2999]).toBe('compiling module 2999 of 3000: src/lib/file_2999.ts ... ok');
    expect(page.meta.total).toBe(raw.toString('latin1').split('\n').length);
  });

  it('reads a 50 MB log back byte-identical', async () => {
    const build = await forceAndWait(master, 'big', {}, 120_000);
    expect(build.build.results).toBe(0);
    const expected = expectedBytes(BIG);
    const raw = await stepLog(master, build.steps[0].stepid);
    expect(raw.length).toBe(expected.length);
    expect(sha(raw)).toBe(sha(expected));
    const log = await stdioOf(build);
    const chunks = await storedChunks(log.logid);
    expect(chunks.every((c) => c.codec === 'br')).toBe(true);
    expect(chunks.reduce((n, c) => n + c.bytes, 0)).toBeLessThan(expected.length / 2);
    // A page from the middle of the log, across compressed chunks.
    const page = (await api(master).get(`/logs/${log.logid}/contents?offset=4999990&limit=20`)).body;
    expect((page.logchunks[0].content as string).split('\n')).toEqual(Array.from({ length: 20 }, (_, i) => String(4999991 + i)));
  }, 180_000);

  it('still reads a chunk stored before compression (codec raw)', async () => {
    const build = await forceAndWait(master, 'mixed');
    const log = await stdioOf(build);
    const { source } = internalsOf(master).db;
    // What migration 0016 made of a chunk written before it: the old columns, and the default codec.
    const old = Buffer.from('old line one\nold \xff line two\n', 'latin1');
    await source.query(`DELETE FROM logchunks WHERE logid = ${log.logid}`);
    await source.query(`UPDATE logs SET num_lines = 2, num_bytes = ${old.length} WHERE id = ${log.logid}`);
    const insert =
      db.kind === 'postgres'
        ? 'INSERT INTO logchunks (logid, first_line, last_line, stream, content) VALUES ($1, 0, 2, $2, $3)'
        : 'INSERT INTO logchunks (logid, first_line, last_line, stream, content) VALUES (?, 0, 2, ?, ?)';
    await source.query(insert, [log.logid, 'o', old]);
    expect(await storedChunks(log.logid)).toEqual([{ codec: 'raw', bytes: old.length }]);

    expect(await api(master).raw(`/logs/${log.logid}/raw`)).toEqual(old);
    const page = (await api(master).get(`/logs/${log.logid}/contents?offset=1&limit=5`)).body;
    expect(page.logchunks[0].content).toBe(Buffer.from('old \xff line two', 'latin1').toString('utf8'));
    expect(page.meta.total).toBe(2);
  });

  it('refuses a chunk with a codec it does not know, naming the chunk', async () => {
    const build = await forceAndWait(master, 'mixed');
    const log = await stdioOf(build);
    await internalsOf(master).db.source.query(`UPDATE logchunks SET codec = 'zz' WHERE logid = ${log.logid}`);
    await expect(internalsOf(master).repos.logs.lines((await internalsOf(master).repos.logs.get(log.logid))!, 0, 1)).rejects.toThrow(
      /chunk \d+ of log \d+ is stored with codec "zz"/,
    );
  });
});
