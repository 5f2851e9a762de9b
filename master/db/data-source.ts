import path from 'node:path';
import fs from 'node:fs';
import { DataSource } from 'typeorm';
import { entities, metricEntities } from './entities.ts';
import { parseDbUrl, type DbKind } from './db-kind.ts';
import { migrations } from './migrations/index.ts';
import { SqliteTurnTaking } from './transaction.ts';
import { SqliteQueryFailures, watchSqlite, type SqliteWatch } from './sqlite-watch.ts';

export interface Database {
  kind: DbKind;
  source: DataSource;
  /** PostgreSQL's connection URL (for connections outside TypeORM's pool: LISTEN); undefined on SQLite. */
  url?: string;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Relative SQLite paths resolve against this (default: the current directory). */
  basedir?: string | undefined;
  /**
   * Told once if the SQLite file is deleted, moved or replaced while open (see sqlite-watch.ts):
   * what is written from then on would be lost. Without it, nothing watches the file.
   */
  onLost?: ((message: string) => void) | undefined;
}

/** Opens the database at `url` and brings its schema up to date through the migrations. */
export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Database> {
  const { kind, location } = parseDbUrl(url);
  let source: DataSource;
  let file: string | null = null;
  if (kind === 'sqlite') {
    if (location !== ':memory:') {
      file = path.resolve(options.basedir ?? process.cwd(), location);
      fs.mkdirSync(path.dirname(file), { recursive: true });
    }
    source = new DataSource({
      type: 'better-sqlite3',
      database: file ?? location,
      entities: [...entities(kind), ...metricEntities(kind)],
      migrations,
      migrationsRun: false,
      synchronize: false,
      // Queries take turns on the one connection TypeORM gives SQLite (see transaction.ts); a failed
      // one has the file watcher look at once.
      subscribers: [SqliteTurnTaking, SqliteQueryFailures],
      // WAL lets the API read while a build writes; NORMAL is durable across a process crash.
      prepareDatabase: (db: { pragma(s: string): unknown }) => {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('busy_timeout = 5000');
        db.pragma('foreign_keys = ON');
      },
    });
  } else {
    source = new DataSource({
      type: 'postgres',
      url: location,
      entities: [...entities(kind), ...metricEntities(kind)],
      migrations,
      synchronize: false,
      extra: { max: 10 },
    });
  }
  await source.initialize();
  await source.runMigrations({ transaction: 'each' });
  const watch = file !== null && options.onLost ? await watchFile(source, file, options.onLost) : null;
  return {
    kind,
    source,
    ...(kind === 'postgres' ? { url: location } : {}),
    close: async () => {
      watch?.stop();
      await source.destroy();
    },
  };
}

/** Watches the SQLite file `file` under `source`: its loss is told to `onLost`, with a copy made first. */
async function watchFile(source: DataSource, file: string, onLost: (message: string) => void): Promise<SqliteWatch> {
  const watch = await watchSqlite(file, {
    // Read through the open connection, which still sees everything even when the path does not.
    copyTo: async (to) => void (await source.query('VACUUM INTO ?', [to])),
    onLost,
  });
  const failures = source.subscribers.find((s) => s instanceof SqliteQueryFailures);
  if (failures) failures.listener = () => void watch.check().catch(() => undefined);
  return watch;
}
