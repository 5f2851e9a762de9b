/**
 * A private PostgreSQL cluster for one test file, for tests that restart or kill the database under a
 * running master. Made as scripts/services.sh makes the suite's shared one: Debian's binaries
 * (/usr/lib/postgresql/<version>/bin), initdb and pg_ctl run as the postgres user through runuser
 * (when the tests run as root), trust auth, loopback only, fsync off (commits stay synchronous). Its own data directory under
 * os.tmpdir() and a port the caller picks, so stopping it never touches the shared cluster.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type RestartMode = 'fast' | 'immediate';

export interface OwnPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** The cluster's directory (data, socket and server log inside). */
  dir: string;
  /** initdb on first call, then pg_ctl start (waits until it accepts connections). Resolves to `url`. */
  start(): Promise<string>;
  /**
   * `fast` (default): pg_ctl restart -m fast (sessions are terminated, a clean shutdown checkpoint).
   * `immediate`: pg_ctl stop -m immediate (every process killed at once, as in a crash) then start
   * (crash recovery). Resolves once the server accepts connections again.
   */
  restart(options?: { mode?: RestartMode }): Promise<string>;
  /** pg_ctl stop (default fast); does nothing when it is not running. */
  stop(options?: { mode?: RestartMode }): Promise<void>;
  /** Stops the server (immediate) and deletes its directory. */
  remove(): Promise<void>;
  /** The server's log so far (for failure messages). */
  serverLog(): string;
}

/** The newest /usr/lib/postgresql/<version>/bin, as services.sh's pg_bindir picks it; null when none. */
export function pgBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = fs.readdirSync(base);
  } catch {
    return null;
  }
  const dirs = versions
    .filter((v) => fs.existsSync(path.join(base, v, 'bin', 'pg_ctl')) && fs.existsSync(path.join(base, v, 'bin', 'initdb')))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const newest = dirs[dirs.length - 1];
  return newest === undefined ? null : path.join(base, newest, 'bin');
}

/**
 * Whether a private cluster can be made here. Without the binaries a bare local `vitest` run skips the
 * suite; under CI that is an error (`npm test` installs them through scripts/services.sh).
 */
export function ownPostgresAvailable(): boolean {
  if (pgBinDir() !== null) return true;
  if (process.env.CI)
    throw new Error('no PostgreSQL binaries in /usr/lib/postgresql/*/bin: run the suite with `npm test`, which installs them');
  console.warn('no PostgreSQL binaries in /usr/lib/postgresql/*/bin: private-PostgreSQL fault tests skipped (run `npm test`)');
  return false;
}

function postgresUser(): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const fields = line?.split(':');
  if (!fields || fields.length < 4) throw new Error('there is no postgres user (is the postgresql package installed?)');
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

export function ownPostgres(port: number): OwnPostgres {
  const bin = pgBinDir();
  if (bin === null) throw new Error('no PostgreSQL binaries in /usr/lib/postgresql/*/bin');
  const asRoot = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caliper-own-pg-'));
  // The server refuses to run as root: as root, everything runs as the postgres user, which owns the directory.
  if (asRoot) {
    const { uid, gid } = postgresUser();
    fs.chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  // fsync off is safe here: killing PostgreSQL's processes leaves the OS page cache intact. Commits stay
  // synchronous: with synchronous_commit off, an immediate stop drops transactions already reported
  // committed (a stored log line vanished that way), which is not what production PostgreSQL does.
  const serverOptions = `-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off`;
  let initialized = false;

  const serverLog = () => {
    try {
      return fs.readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };

  const pg = async (program: string, args: string[]): Promise<void> => {
    const file = asRoot ? 'runuser' : path.join(bin, program);
    const argv = asRoot ? ['-u', 'postgres', '--', path.join(bin, program), ...args] : args;
    try {
      // cwd: the postgres user may not be allowed into the caller's working directory.
      await run(file, argv, { timeout: 60_000, cwd: dir });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `${program} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}\n--- server log ---\n${serverLog().slice(-4000)}`,
      );
    }
  };

  const running = () => fs.existsSync(path.join(data, 'postmaster.pid'));

  const start = async (): Promise<string> => {
    if (!initialized) {
      await pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync']);
      initialized = true;
    }
    await pg('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '30', '-o', serverOptions, 'start']);
    return url;
  };

  const stop = async (options: { mode?: RestartMode } = {}): Promise<void> => {
    if (!running()) return;
    await pg('pg_ctl', ['-D', data, '-m', options.mode ?? 'fast', '-w', '-t', '30', 'stop']);
  };

  return {
    url,
    port,
    dir,
    start,
    async restart(options = {}) {
      if ((options.mode ?? 'fast') === 'fast') {
        await pg('pg_ctl', ['-D', data, '-l', logFile, '-m', 'fast', '-w', '-t', '30', '-o', serverOptions, 'restart']);
        return url;
      }
      await stop({ mode: 'immediate' });
      return start();
    },
    stop,
    async remove() {
      await stop({ mode: 'immediate' }).catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
    serverLog,
  };
}
