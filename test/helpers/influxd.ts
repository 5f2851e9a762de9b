/** An InfluxDB server of the test's own (Debian's influxd), for tests that stop and restart it. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface Influxd {
  url: string;
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function influxd(port: number): Influxd {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-influxd-'));
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  return {
    url,
    async start() {
      let output = '';
      const started = spawn('influxd', ['run'], {
        env: {
          ...process.env,
          INFLUXDB_META_DIR: path.join(dir, 'meta'),
          INFLUXDB_DATA_DIR: path.join(dir, 'data'),
          INFLUXDB_DATA_WAL_DIR: path.join(dir, 'wal'),
          INFLUXDB_BIND_ADDRESS: `127.0.0.1:${port + 1}`,
          INFLUXDB_HTTP_BIND_ADDRESS: `127.0.0.1:${port}`,
          INFLUXDB_REPORTING_DISABLED: 'true',
          INFLUXDB_HTTP_LOG_ENABLED: 'false',
          INFLUXDB_DATA_QUERY_LOG_ENABLED: 'false',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = started;
      // What influxd says, kept short: a start that fails says why (a port taken, a directory refused).
      const keep = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-4000));
      started.stdout?.on('data', keep);
      started.stderr?.on('data', keep);
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (started.exitCode !== null || started.signalCode !== null) {
          throw new Error(`influxd exited (${started.exitCode ?? started.signalCode}) before answering on ${url}:\n${output}`);
        }
        const ok = await fetch(`${url}/ping`).then(
          (r) => r.status === 204,
          () => false,
        );
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`influxd did not answer on ${url} within 20 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    kill(signal = 'SIGKILL') {
      return new Promise((resolve) => {
        const c = child;
        if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill(signal);
      });
    },
  };
}

export function testInfluxUrl(): string | null {
  const url = process.env.CALIPER_TEST_INFLUX_URL;
  if (!url && process.env.CI) throw new Error('CALIPER_TEST_INFLUX_URL is not set: run the suite with `npm test`');
  return url ?? null;
}

export const uniqueDatabase = (): string => `caliper_t_${randomBytes(5).toString('hex')}`;
