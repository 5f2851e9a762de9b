/**
 * Notices when the files of an open SQLite database are no longer the ones at its path.
 *
 * SQLite keeps writing into a database file that was deleted, moved or replaced while it is open,
 * without an error: the unlinked file lives on until the process exits, and with it everything
 * written since. So the watcher looks at the path (every second, and after any failed query): the
 * database file, its -wal and its -shm must still be the files (device and inode) seen when the
 * database was opened. When one is not, it copies what the database holds beside the path (VACUUM
 * INTO, read through the still open connection) and reports the loss once, naming the file, what
 * happened and where the copy is; the master then stops (`onLost`). A lost database file's -wal and
 * -shm are removed from its path: SQLite would replay that -wal onto whatever file comes there next.
 *
 * What it sees and what it cannot:
 * - the database file, its -wal or -shm deleted, moved away or replaced by another file: seen;
 * - the -shm file truncated: seen only if a check comes before SQLite's next touch of it. SQLite maps
 *   that file into memory; touching a page past its new end raises SIGBUS, which ends the process at
 *   once (Node cannot safely run JavaScript on it). Nothing committed is lost then: commits are in the
 *   database and -wal files, from which the next start rebuilds the -shm. No copy is made for a
 *   truncated -shm either, since reading would touch it.
 * - another writer corrupting the file's contents: not seen.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventSubscriber, type AfterQueryEvent, type EntitySubscriberInterface } from 'typeorm';
import { errorMessage } from '../../core/error-message.ts';
import { InvalidStateError } from '../../core/errors/index.ts';

/** How often the files are looked at. */
export const SQLITE_CHECK_MS = 1000;

/** The three files of a database in WAL mode, by their suffix. */
type Part = '' | '-wal' | '-shm';
const PARTS: readonly Part[] = ['', '-wal', '-shm'];
/** What SQLite keeps beside the database file. */
const COMPANIONS: readonly Part[] = ['-wal', '-shm'];

interface Identity {
  dev: number;
  ino: number;
  size: number;
}

/** What became of a file, or null while it is the one first seen. */
type Loss = 'gone' | 'replaced' | 'truncated';

export interface SqliteWatchOptions {
  /** Copies the database, as the open connection sees it, into a new file `to`. */
  copyTo(to: string): Promise<void>;
  /** Told once, with a message for the operator, when the database is lost. */
  onLost(message: string): void;
  intervalMs?: number;
}

export interface SqliteWatch {
  /** Looks at the files now (also done every `intervalMs`). */
  check(): Promise<void>;
  stop(): void;
}

async function identity(file: string): Promise<Identity | null> {
  try {
    const s = await fs.promises.stat(file);
    return { dev: s.dev, ino: s.ino, size: s.size };
  } catch (e) {
    // ENOTDIR: a folder on the way was replaced by a file. Other errors (EACCES) say nothing of the file.
    if (e instanceof Error && 'code' in e && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return null;
    throw e;
  }
}

function lossOf(part: Part, first: Identity, now: Identity | null): Loss | null {
  if (now === null) return 'gone';
  if (now.dev !== first.dev || now.ino !== first.ino) return 'replaced';
  // SQLite never shrinks the -shm while a connection has it open.
  if (part === '-shm' && now.size < first.size) return 'truncated';
  return null;
}

function describeLoss(file: string, part: Part, loss: Loss): string {
  const what = part === '' ? 'SQLite database' : part === '-wal' ? 'SQLite write-ahead log' : 'SQLite shared-memory file';
  switch (loss) {
    case 'gone':
      return `${what} ${file}${part} was deleted or moved away while the master was running`;
    case 'replaced':
      return `${what} ${file}${part} was replaced by another file while the master was running`;
    case 'truncated':
      return `${what} ${file}${part} was truncated while the master was running`;
    default: {
      const never: never = loss;
      return never;
    }
  }
}

/** `file.rescued-2025-01-31T12-00-00-000Z`: beside the database, never an existing file. */
function rescuePath(file: string): string {
  return `${file}.rescued-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}

/** Starts watching the files of the SQLite database `file`, opened just now. */
export function watchSqlite(file: string, options: SqliteWatchOptions): Promise<SqliteWatch> {
  return SqliteWatcher.start(file, options);
}

/** States: watching -> lost (told once) | watching -> stopped. A lost or stopped watcher looks no more. */
class SqliteWatcher implements SqliteWatch {
  private state: 'watching' | 'lost' | 'stopped' = 'watching';
  private checking: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly file: string,
    /** Each file as first seen: at open, or for a -wal or -shm not there yet, when it appears. */
    private readonly first: Map<Part, Identity>,
    private readonly options: SqliteWatchOptions,
  ) {
    // A check that fails (a folder made unreadable) is tried again at the next tick.
    this.timer = setInterval(() => void this.check().catch(() => undefined), options.intervalMs ?? SQLITE_CHECK_MS);
    // The watcher alone does not keep the process alive.
    this.timer.unref();
  }

  static async start(file: string, options: SqliteWatchOptions): Promise<SqliteWatcher> {
    const first = new Map<Part, Identity>();
    for (const part of PARTS) {
      const id = await identity(file + part);
      if (id) first.set(part, id);
    }
    return new SqliteWatcher(file, first, options);
  }

  check(): Promise<void> {
    if (this.state !== 'watching') return Promise.resolve();
    this.checking ??= this.lookOnce().finally(() => (this.checking = null));
    return this.checking;
  }

  stop(): void {
    if (this.state === 'watching') this.state = 'stopped';
    clearInterval(this.timer);
  }

  private async lookOnce(): Promise<void> {
    for (const part of PARTS) {
      if (this.state !== 'watching') return;
      const now = await identity(this.file + part);
      const seen = this.first.get(part);
      if (!seen) {
        if (now) this.first.set(part, now);
        continue;
      }
      const loss = lossOf(part, seen, now);
      if (loss) return this.lost(part, loss);
      if (now) seen.size = Math.max(seen.size, now.size);
    }
  }

  /** watching -> lost: saves what can be saved, then tells `onLost`. */
  private async lost(part: Part, loss: Loss): Promise<void> {
    if (this.state !== 'watching') throw new InvalidStateError('SqliteWatcher', this.state, 'report a loss');
    this.state = 'lost';
    clearInterval(this.timer);
    const file = this.file;
    let message = describeLoss(file, part, loss);
    if (loss === 'truncated') {
      message += `: what it committed is in ${file} and ${file}-wal, from which the next start rebuilds the shared memory`;
    } else {
      message += `: ${await this.rescue()}`;
    }
    if (part === '') {
      const removed = await this.removeOrphans();
      if (removed.length > 0) {
        message += ` (${removed.join(' and ')}, of the lost file, are removed: SQLite would apply them to any file put at its path)`;
      }
    }
    this.options.onLost(`${message}. Stopping: what the master would write now would be lost when it exits.`);
  }

  /** Copies the database beside its path; says where, or why not. */
  private async rescue(): Promise<string> {
    const to = rescuePath(this.file);
    try {
      await fs.promises.mkdir(path.dirname(to), { recursive: true });
      await this.options.copyTo(to);
      return `everything it had stored is copied to ${to}; to go on from there, move the copy to ${this.file}`;
    } catch (e) {
      return `copying what it had stored to ${to} failed (${errorMessage(e)}); what it wrote since it opened ${this.file} is lost`;
    }
  }

  /** The -wal and -shm still at the path of a lost database file: they belong to it, and go with it. */
  private async removeOrphans(): Promise<string[]> {
    const removed: string[] = [];
    for (const part of COMPANIONS) {
      const seen = this.first.get(part);
      const now = await identity(this.file + part).catch(() => null);
      if (!seen || !now || now.dev !== seen.dev || now.ino !== seen.ino) continue;
      await fs.promises.unlink(this.file + part).then(
        () => removed.push(this.file + part),
        () => undefined,
      );
    }
    return removed;
  }
}

/**
 * Tells the watcher of a data source about failed queries, so that files lost under it are noticed
 * at once rather than at the next tick. Listed among the data source's subscribers.
 */
export class SqliteQueryFailures implements EntitySubscriberInterface {
  listener: (() => void) | null = null;

  afterQuery(event: AfterQueryEvent): void {
    if (!event.success) this.listener?.();
  }
}
// TypeORM instantiates the subscribers its data source lists only if they are registered this way.
EventSubscriber()(SqliteQueryFailures);
