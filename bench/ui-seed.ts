/**
 * Fills a stopped master's SQLite file to the size of issue 16's check (10 000 builds, 200 000
 * points) in seconds: the rows of a few real builds (each builder's build request, build, steps and
 * points) are copied over and over with new numbers and earlier times, then a `bench_ms` series
 * posted-style (tags os and branch) tops the points up. Copies of real rows keep every column the
 * schema has today, so the seed does not rot when a column is added.
 */
import Database from 'better-sqlite3';

export interface SeedFigures {
  builds: number;
  points: number;
  seconds: number;
}

type Row = Record<string, unknown>;

/** A prepared INSERT for `table` with the columns of `sample` except `id`; returns the new row id. */
function inserter(db: Database.Database, table: string, sample: Row): (row: Row) => number {
  const cols = Object.keys(sample).filter((c) => c !== 'id');
  const stmt = db.prepare(
    `INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`,
  );
  return (row) => Number(stmt.run(Object.fromEntries(cols.map((c) => [c, row[c]]))).lastInsertRowid);
}

/**
 * Copies each builder's real builds until `builds` builds exist, spread back over `spanDays`, then
 * adds points until `points` exist. `file` must not be open by a running master.
 */
export function seedUiDatabase(file: string, target: { builds: number; points: number; spanDays: number }): SeedFigures {
  const started = Date.now();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const templates = db.prepare('SELECT * FROM builds ORDER BY id').all() as Row[];
  const first = templates[0];
  if (!first) throw new Error('seed: run at least one real build first');
  const firstRequest = db.prepare('SELECT * FROM buildrequests LIMIT 1').get() as Row;
  const firstStep = db.prepare('SELECT * FROM steps LIMIT 1').get() as Row;
  const firstPoint = db.prepare('SELECT * FROM metric_points LIMIT 1').get() as Row;
  const addRequest = inserter(db, 'buildrequests', firstRequest);
  const addBuild = inserter(db, 'builds', first);
  const addStep = inserter(db, 'steps', firstStep);
  const addPoint = inserter(db, 'metric_points', firstPoint);
  const requestOf = db.prepare('SELECT * FROM buildrequests WHERE id = ?');
  const stepsOf = db.prepare('SELECT * FROM steps WHERE buildid = ?');
  const pointsOf = db.prepare('SELECT * FROM metric_points WHERE buildid = ?');
  const maxNumber = db.prepare('SELECT builderid, MAX(number) AS n FROM builds GROUP BY builderid').all() as {
    builderid: number;
    n: number;
  }[];
  const nextNumber = new Map(maxNumber.map((r) => [r.builderid, r.n + 1]));
  const count = (table: string) => (db.prepare(`SELECT COUNT(*) AS n FROM "${table}"`).get() as { n: number }).n;

  const toAdd = Math.max(0, target.builds - templates.length);
  const now = Date.now();
  const stepMs = Math.floor((target.spanDays * 86_400_000) / Math.max(1, toAdd));
  // Shapes of the template builds, read once.
  const shapes = templates.map((b) => ({
    build: b,
    request: requestOf.get(b.buildrequestid) as Row,
    steps: stepsOf.all(b.id) as Row[],
    points: pointsOf.all(b.id) as Row[],
  }));
  db.transaction(() => {
    for (let i = 0; i < toAdd; i++) {
      const shape = shapes[i % shapes.length] as (typeof shapes)[number];
      const b = shape.build;
      // Oldest first, before the real builds: the newest builds stay the real ones.
      const shift = Number(b.started_at) - (now - target.spanDays * 86_400_000 + i * stepMs) + 3_600_000;
      const at = (t: unknown) => (t === null ? null : Number(t) - shift);
      const builderid = Number(b.builderid);
      const number = nextNumber.get(builderid) ?? 1;
      nextNumber.set(builderid, number + 1);
      const requestid = addRequest({
        ...shape.request,
        submitted_at: at(shape.request.submitted_at),
        complete_at: at(shape.request.complete_at),
      });
      // One in ten builds fails, so the overview has failing builders and the charts have gaps.
      const results = i % 10 === 7 ? 2 : b.results;
      const buildid = addBuild({
        ...b,
        buildrequestid: requestid,
        number,
        started_at: at(b.started_at),
        complete_at: at(b.complete_at),
        results,
      });
      for (const s of shape.steps) addStep({ ...s, buildid, started_at: at(s.started_at), complete_at: at(s.complete_at) });
      for (const p of shape.points)
        addPoint({
          ...p,
          buildid,
          build_number: number,
          time: Number(p.time) - shift * 1000,
          value: Number(p.value) * (0.97 + ((i * 7919) % 61) / 1000),
        });
    }
  })();

  // Top up with one series of many points: a benchmark posted from outside builds.
  const missing = Math.max(0, target.points - count('metric_points'));
  db.prepare("INSERT OR IGNORE INTO metric_series (name, kind, unit, tag_keys) VALUES ('bench_ms', 'duration', 'ms', ?)").run(
    JSON.stringify(['branch', 'builder', 'os']),
  );
  const builders = (db.prepare('SELECT name FROM builders ORDER BY id').all() as { name: string }[]).map((r) => r.name);
  db.transaction(() => {
    const spanUs = target.spanDays * 86_400_000_000;
    for (let i = 0; i < missing; i++) {
      const os = i % 2 === 0 ? 'linux' : 'mac';
      addPoint({
        ...firstPoint,
        series: 'bench_ms',
        time: now * 1000 - spanUs + Math.floor((i * spanUs) / Math.max(1, missing)),
        value: 100 + ((i * 7919) % 101) / 10,
        builder: builders[i % builders.length] ?? null,
        step: null,
        agent: null,
        result: null,
        tagset: `\u001fbranch=main\u001fos=${os}\u001f`,
        build_number: null,
        buildid: null,
        samples: null,
      });
    }
  })();
  const figures = { builds: count('builds'), points: count('metric_points'), seconds: (Date.now() - started) / 1000 };
  db.close();
  return figures;
}
