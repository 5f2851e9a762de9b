/** The two databases Caliper runs on, and the column types that differ between them. */
export type DbKind = 'sqlite' | 'postgres';

export interface ColumnTypes {
  binary: 'blob' | 'bytea';
  float: 'real' | 'double precision';
}

export function columnTypes(kind: DbKind): ColumnTypes {
  return kind === 'postgres' ? { binary: 'bytea', float: 'double precision' } : { binary: 'blob', float: 'real' };
}

/** `sqlite:PATH` (or `sqlite::memory:`) and `postgres://…` / `postgresql://…`. */
export function parseDbUrl(url: string): { kind: DbKind; location: string } {
  if (url.startsWith('sqlite:')) return { kind: 'sqlite', location: url.slice('sqlite:'.length) || 'caliper.sqlite' };
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', location: url };
  throw new Error(`db.url must be "sqlite:PATH" or "postgres://…", got "${url}"`);
}
