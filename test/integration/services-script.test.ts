/**
 * scripts/services.sh: a start finds the PostgreSQL or InfluxDB of its directory already running on
 * its port and reuses it, data and all, instead of making a new one under whoever uses it (a second
 * `start_postgres` ran initdb over the shared cluster and broke the tests using it); and it refuses,
 * saying why, when its own instance runs on another port or another process holds the port. With
 * its own services directory and ports, never the suite's.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgBinDir } from '../helpers/own-postgres.ts';
import { quietPort } from '../helpers/ports.ts';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/services.sh');
/** services.sh binds PG_PORT and PG_PORT + 1 (a second try), INFLUX_PORT and INFLUX_PORT + 2. */
const PG_PORT = quietPort(200);
const INFLUX_PORT = quietPort(210);

/** The script needs root (runuser to the postgres user) and Debian's binaries, which `npm test` installs. */
function available(): boolean {
  const missing = [
    process.getuid?.() === 0 ? null : 'root',
    pgBinDir() === null ? 'PostgreSQL binaries' : null,
    ['/usr/bin/influxd', '/usr/sbin/influxd'].some((f) => fs.existsSync(f)) ? null : 'influxd',
  ].filter((m) => m !== null);
  if (missing.length === 0) return true;
  if (process.env.CI) throw new Error(`services.sh test needs ${missing.join(', ')}: run the suite with \`npm test\``);
  console.warn(`services.sh test skipped: no ${missing.join(', ')}`);
  return false;
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `source services.sh && <commands>` in bash with the scratch directory and ports. */
async function services(dir: string, commands: string, ports = { pg: PG_PORT, influx: INFLUX_PORT }): Promise<Outcome> {
  const env = { ...process.env, CALIPER_SERVICES_DIR: dir, CALIPER_PG_PORT: String(ports.pg), CALIPER_INFLUX_PORT: String(ports.influx) };
  try {
    const { stdout, stderr } = await run('bash', ['-c', `source ${SCRIPT} && ${commands}`], { env, timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const failed = e as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? String(e) };
  }
}

const START = 'start_postgres && start_influxdb && echo "pg=$CALIPER_TEST_PG_URL influx=$CALIPER_TEST_INFLUX_URL"';
const URLS = `pg=postgres://postgres@127.0.0.1:${PG_PORT}/postgres influx=http://127.0.0.1:${INFLUX_PORT}`;

async function sql(text: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${PG_PORT}/postgres` });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

async function influxql(q: string, method: 'GET' | 'POST' = 'GET'): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${INFLUX_PORT}/query?q=${encodeURIComponent(q)}`, { method });
  return response.text();
}

describe.runIf(available())('scripts/services.sh', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-services-test-'));
  let first: Outcome;

  beforeAll(async () => {
    first = await services(dir, START);
  }, 120_000);
  afterAll(async () => {
    const stopped = await services(dir, 'stop_services');
    fs.rmSync(dir, { recursive: true, force: true });
    expect(stopped.code, stopped.stderr).toBe(0);
  }, 60_000);

  it('starts both, then a second start reuses them with their data', async () => {
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.trim()).toBe(URLS);
    expect(first.stderr).not.toContain('reused');
    const pgPid = fs.readFileSync(path.join(dir, 'pg-data/postmaster.pid'), 'utf8').split('\n')[0];
    const influxPid = fs.readFileSync(path.join(dir, 'influx/pid'), 'utf8').trim();
    await sql('CREATE TABLE survivor (note text)');
    await sql(`INSERT INTO survivor VALUES ('made before the second start')`);
    await influxql('CREATE DATABASE survivor', 'POST');

    const second = await services(dir, START);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).toBe(URLS);
    expect(second.stderr).toContain(`postgresql already running on 127.0.0.1:${PG_PORT} (${dir}/pg-data, pid ${pgPid}); reused`);
    expect(second.stderr).toContain(`influxdb already running on 127.0.0.1:${INFLUX_PORT} (${dir}/influx, pid ${influxPid}); reused`);
    expect(await sql('SELECT note FROM survivor')).toEqual([{ note: 'made before the second start' }]);
    expect(await influxql('SHOW DATABASES')).toContain('"survivor"');
  }, 60_000);

  it('refuses, saying why, when its own instance runs on another port', async () => {
    const other = await services(dir, 'start_postgres', { pg: PG_PORT + 1, influx: INFLUX_PORT });
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(new RegExp(`the postgresql of ${dir} runs \\(pid \\d+: .*\\) but not on port ${PG_PORT + 1}`));
    expect(await sql('SELECT count(*)::int AS n FROM survivor')).toEqual([{ n: 1 }]);
  }, 60_000);

  it("refuses when another directory's instance holds the port", async () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-services-other-'));
    try {
      const taken = await services(elsewhere, 'start_postgres || start_influxdb');
      expect(taken.code).not.toBe(0);
      expect(taken.stderr).toContain(`port ${PG_PORT} is taken by another process`);
      expect(taken.stderr).toContain(`port ${INFLUX_PORT} is taken by another process`);
      expect(fs.readdirSync(elsewhere)).toEqual([]);
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
    expect(await sql('SELECT count(*)::int AS n FROM survivor')).toEqual([{ n: 1 }]);
  }, 60_000);
});
