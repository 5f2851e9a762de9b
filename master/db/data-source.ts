import path from 'node:path';
import fs from 'node:fs';
import { DataSource } from 'typeorm';
import { entities, metricEntities } from './entities.ts';
import { parseDbUrl, type DbKind } from './db-kind.ts';
import { migrations } from './migrations/index.ts';
import { SqliteTurnTaking } from './transaction.ts';

export interface Database {
  kind: DbKind;
  source: DataSource;
  /** PostgreSQL's connection URL (for connections outside TypeORM's pool: LISTEN); undefined on SQLite. */
  url?: string;
  close(): Promise<void>;
}

/** Opens the database at `url` and brings its schema up to date through the migrations. */
export async function openDatabase(url: string, options: { basedir?: string } = {}): Promise<Database> {
  const { kind, location } = parseDbUrl(url);
  let source: DataSource;
  if (kind === 'sqlite') {
    const file = location === ':memory:' ? location : path.resolve(options.basedir ?? process.cwd(), location);
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    source = new DataSource({
      type: 'better-sqlite3',
      database: file,
      entities: [...entities(kind), ...metricEntities(kind)],
      migrations,
      migrationsRun: false,
      synchronize: false,
      // Queries take turns on the one connection TypeORM gives SQLite (see transaction.ts).
      subscribers: [SqliteTurnTaking],
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
  return { kind, source, ...(kind === 'postgres' ? { url: location } : {}), close: () => source.destroy() };
}
