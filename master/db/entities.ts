/**
 * Persistent records. Entity schemas (not decorators) so the same sources run under tsx without
 * decorator metadata, and so binary/float column types can follow the database kind.
 * Times are epoch milliseconds (bigint), read back as numbers.
 */
import { EntitySchema, type ValueTransformer } from 'typeorm';
import { columnTypes, type DbKind } from './db-kind.ts';
import { isResult, type Result } from '../../core/results.ts';

export const bigintAsNumber: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? null : Number(v)),
};
/**
 * A result column: stored as its Buildbot code, read back as a `Result`. A code outside 0..6 means
 * the row was written by something else (or is corrupt): reading it fails instead of passing on a
 * result no switch handles.
 */
export const resultOrNull: ValueTransformer = {
  to: (v: Result | null | undefined) => v,
  from: (v: string | number | null | undefined): Result | null => {
    if (v === null || v === undefined) return null;
    const n = Number(v);
    if (!isResult(n)) throw new RangeError(`stored result ${JSON.stringify(v)} is not a result code (0..6)`);
    return n;
  },
};
const results = { type: 'integer' as const, nullable: true, transformer: resultOrNull };
const ms = { type: 'bigint' as const, nullable: true, transformer: bigintAsNumber };
const id = { type: 'integer' as const, primary: true, generated: 'increment' as const };

export interface BuilderRow {
  id: number;
  name: string;
  description: string | null;
  tags: string; // JSON array
  /**
   * The highest build number handed out for this builder (0 before its first build). Raised in the
   * transaction that inserts the build, so masters sharing a database never hand out one twice.
   */
  last_build_number: number;
}
export interface MasterRow {
  id: number;
  name: string;
  active: boolean;
  last_active: number | null;
}
export interface BuildRequestRow {
  id: number;
  builderid: number;
  reason: string;
  properties: string; // JSON object
  priority: number;
  submitted_at: number;
  claimed_by_masterid: number | null;
  claimed_at: number | null;
  complete: boolean;
  complete_at: number | null;
  results: Result | null;
  /** The build whose Trigger step made this request; null otherwise. */
  parent_buildid: number | null;
  /** The buildset it was submitted in (null for requests stored before buildsets existed). */
  buildsetid: number | null;
  /** A matrix cell's axis values as JSON (master/config/matrix.ts); null for a request that is no cell. */
  matrix: string | null;
}
/** The requests one submission made (Buildbot's buildset); complete when all of them are. */
export interface BuildsetRow {
  id: number;
  /** The scheduler that submitted it; null for a force, a rebuild or the API. */
  scheduler: string | null;
  reason: string;
  submitted_at: number;
  parent_buildid: number | null;
}
/** A dependent scheduler waiting for an upstream buildset to complete. */
export interface DependentWaitRow {
  scheduler: string;
  buildsetid: number;
}
/** What a nightly triggerable scheduler was last armed with by a Trigger step. */
export interface NightlyArmRow {
  scheduler: string;
  properties: string; // JSON object
  changeids: string; // JSON array
  parent_buildid: number | null;
  armed_at: number;
}
export interface BuildRow {
  id: number;
  builderid: number;
  buildrequestid: number;
  number: number;
  masterid: number;
  agent: string;
  started_at: number;
  complete_at: number | null;
  results: Result | null;
  state_string: string;
  properties: string; // JSON object name -> [value, source]
}
export interface StepRow {
  id: number;
  buildid: number;
  number: number;
  name: string;
  started_at: number | null;
  complete_at: number | null;
  results: Result | null;
  state_string: string;
  hidden: boolean;
}
export interface LogRow {
  id: number;
  stepid: number;
  name: string;
  slug: string;
  type: string; // 's' stdio, 't' text
  num_lines: number;
  num_bytes: number;
  complete: boolean;
  /** When the retention janitor removed its chunks (migration 0016); null while they are kept. */
  expired_at: number | null;
}
export interface LogChunkRow {
  id: number;
  logid: number;
  first_line: number;
  last_line: number;
  stream: string; // 'o' stdout, 'e' stderr, 'h' header
  /** How `content` is kept (master/db/log-codec.ts, migration 0016): 'raw' or 'br'. */
  codec: string;
  content: Buffer;
}
export interface AgentRow {
  id: number;
  name: string;
  info: string; // JSON: os, version, labels, capacity
  connected_to_masterid: number | null;
  last_connected_at: number | null;
}

/** Something that changed in a repository: a commit seen by a poller, or posted to the API. */
export interface ChangeRow {
  id: number;
  repository: string;
  branch: string | null;
  revision: string;
  author: string;
  comments: string;
  files: string; // JSON array of paths
  /** JSON object: the properties the change came with (a pull request's pr_number, …). */
  properties: string;
  project: string;
  category: string | null;
  /** When the change was made (the commit's time), epoch ms. */
  when_timestamp: number;
  created_at: number;
  /** The master that stored it (and offered it to its change schedulers). */
  masterid: number | null;
  /** A change scheduler of that master holds it for its tree-stable timer. */
  waiting: boolean;
}
/** A file an upload step kept as its build's artifact (migration 0011; master/db/artifacts.ts). */
export interface ArtifactRow {
  id: number;
  buildid: number;
  stepid: number;
  /** Unique within the build; the last part of its download URL. */
  name: string;
  /** Where the file is, on the master that ran the build (under `<basedir>/artifacts/<buildid>/`). */
  path: string;
  size: number;
  sha256: string;
  created_at: number;
}
/** Which changes a build request builds. */
export interface BuildRequestChangeRow {
  buildrequestid: number;
  changeid: number;
}

/**
 * One delivery waiting for (or done by) a reporter: the reporter outbox (master/reporters/outbox.ts).
 * States: pending -> delivered | failed (a permanent error). A pending row may be leased by one
 * master at a time (`claimed_by_masterid` until `claimed_until`) while that master delivers it.
 */
export interface ReporterOutboxRow {
  id: number;
  /** The reporter's name (stable across restarts). */
  reporter: string;
  buildid: number;
  /** 1, 2, … within (reporter, buildid): the order the build's events happened in. */
  seq: number;
  /** The BuildReport as JSON. */
  payload: string;
  /** A uuid, the same on every try (X-Caliper-Delivery). */
  delivery_id: string;
  state: OutboxState;
  attempts: number;
  next_attempt_at: number;
  claimed_by_masterid: number | null;
  claimed_until: number | null;
  delivered_at: number | null;
  failed_at: number | null;
  last_error: string | null;
  created_at: number;
}
export type OutboxState = 'pending' | 'delivered' | 'failed';

export function entities(kind: DbKind) {
  const t = columnTypes(kind);
  return [
    new EntitySchema<BuilderRow>({
      name: 'Builder',
      tableName: 'builders',
      columns: {
        id,
        name: { type: 'varchar', length: 100, unique: true },
        description: { type: 'text', nullable: true },
        tags: { type: 'text', default: '[]' },
        last_build_number: { type: 'integer', default: 0 },
      },
    }),
    new EntitySchema<MasterRow>({
      name: 'Master',
      tableName: 'masters',
      columns: {
        id,
        name: { type: 'varchar', length: 200, unique: true },
        active: { type: 'boolean', default: false },
        last_active: ms,
      },
    }),
    new EntitySchema<BuildRequestRow>({
      name: 'BuildRequest',
      tableName: 'buildrequests',
      columns: {
        id,
        builderid: { type: 'integer' },
        reason: { type: 'text' },
        properties: { type: 'text', default: '{}' },
        priority: { type: 'integer', default: 0 },
        submitted_at: { ...ms, nullable: false },
        claimed_by_masterid: { type: 'integer', nullable: true },
        claimed_at: ms,
        complete: { type: 'boolean', default: false },
        complete_at: ms,
        results,
        parent_buildid: { type: 'integer', nullable: true },
        buildsetid: { type: 'integer', nullable: true },
        matrix: { type: 'text', nullable: true },
      },
      indices: [
        { columns: ['complete', 'claimed_by_masterid'] },
        { columns: ['parent_buildid'] },
        { columns: ['buildsetid'] },
        // The queue in claim order (migration 0013).
        { columns: ['builderid', 'complete', 'claimed_by_masterid', 'priority', 'submitted_at'] },
      ],
      foreignKeys: [{ target: 'Builder', columnNames: ['builderid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
    }),
    new EntitySchema<BuildRow>({
      name: 'Build',
      tableName: 'builds',
      columns: {
        id,
        builderid: { type: 'integer' },
        buildrequestid: { type: 'integer' },
        number: { type: 'integer' },
        masterid: { type: 'integer' },
        agent: { type: 'varchar', length: 100 },
        started_at: { ...ms, nullable: false },
        complete_at: ms,
        results,
        state_string: { type: 'text', default: '' },
        properties: { type: 'text', default: '{}' },
      },
      indices: [{ columns: ['builderid', 'number'], unique: true }, { columns: ['buildrequestid'] }],
      foreignKeys: [
        { target: 'Builder', columnNames: ['builderid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
        { target: 'BuildRequest', columnNames: ['buildrequestid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
      ],
    }),
    new EntitySchema<StepRow>({
      name: 'Step',
      tableName: 'steps',
      columns: {
        id,
        buildid: { type: 'integer' },
        number: { type: 'integer' },
        name: { type: 'varchar', length: 150 },
        started_at: ms,
        complete_at: ms,
        results,
        state_string: { type: 'text', default: '' },
        hidden: { type: 'boolean', default: false },
      },
      indices: [{ columns: ['buildid', 'number'], unique: true }],
      foreignKeys: [{ target: 'Build', columnNames: ['buildid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
    }),
    new EntitySchema<LogRow>({
      name: 'Log',
      tableName: 'logs',
      columns: {
        id,
        stepid: { type: 'integer' },
        name: { type: 'varchar', length: 100 },
        slug: { type: 'varchar', length: 100 },
        type: { type: 'varchar', length: 1 },
        num_lines: { type: 'integer', default: 0 },
        num_bytes: { type: 'bigint', default: 0, transformer: bigintAsNumber },
        complete: { type: 'boolean', default: false },
        expired_at: ms,
      },
      indices: [{ columns: ['stepid', 'slug'], unique: true }],
      foreignKeys: [{ target: 'Step', columnNames: ['stepid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
    }),
    new EntitySchema<LogChunkRow>({
      name: 'LogChunk',
      tableName: 'logchunks',
      columns: {
        id,
        logid: { type: 'integer' },
        first_line: { type: 'integer' },
        last_line: { type: 'integer' },
        stream: { type: 'varchar', length: 1 },
        codec: { type: 'varchar', length: 8, default: 'raw' },
        content: { type: t.binary },
      },
      indices: [{ columns: ['logid', 'first_line'] }],
      foreignKeys: [{ target: 'Log', columnNames: ['logid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
    }),
    new EntitySchema<AgentRow>({
      name: 'Agent',
      tableName: 'agents',
      columns: {
        id,
        name: { type: 'varchar', length: 100, unique: true },
        info: { type: 'text', default: '{}' },
        connected_to_masterid: { type: 'integer', nullable: true },
        last_connected_at: ms,
      },
    }),
    new EntitySchema<ChangeRow>({
      name: 'Change',
      tableName: 'changes',
      columns: {
        id,
        repository: { type: 'varchar', length: 500 },
        branch: { type: 'varchar', length: 250, nullable: true },
        revision: { type: 'varchar', length: 100 },
        author: { type: 'varchar', length: 500 },
        comments: { type: 'text' },
        files: { type: 'text', default: '[]' },
        properties: { type: 'text', default: '{}' },
        project: { type: 'varchar', length: 200, default: '' },
        category: { type: 'varchar', length: 200, nullable: true },
        when_timestamp: { ...ms, nullable: false },
        created_at: { ...ms, nullable: false },
        masterid: { type: 'integer', nullable: true },
        waiting: { type: 'boolean', default: false },
      },
      indices: [{ columns: ['repository', 'branch'] }, { columns: ['revision'] }],
    }),
    new EntitySchema<BuildRequestChangeRow>({
      name: 'BuildRequestChange',
      tableName: 'buildrequest_changes',
      columns: {
        buildrequestid: { type: 'integer', primary: true },
        changeid: { type: 'integer', primary: true },
      },
      indices: [{ columns: ['changeid'] }],
      foreignKeys: [
        { target: 'BuildRequest', columnNames: ['buildrequestid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
        { target: 'Change', columnNames: ['changeid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
      ],
    }),
    new EntitySchema<BuildsetRow>({
      name: 'Buildset',
      tableName: 'buildsets',
      columns: {
        id,
        scheduler: { type: 'varchar', length: 100, nullable: true },
        reason: { type: 'text' },
        submitted_at: { ...ms, nullable: false },
        parent_buildid: { type: 'integer', nullable: true },
      },
      indices: [{ columns: ['scheduler'] }],
    }),
    new EntitySchema<DependentWaitRow>({
      name: 'DependentWait',
      tableName: 'dependent_waits',
      columns: {
        scheduler: { type: 'varchar', length: 100, primary: true },
        buildsetid: { type: 'integer', primary: true },
      },
      indices: [{ columns: ['buildsetid'] }],
      foreignKeys: [{ target: 'Buildset', columnNames: ['buildsetid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
    }),
    new EntitySchema<NightlyArmRow>({
      name: 'NightlyArm',
      tableName: 'nightly_arms',
      columns: {
        scheduler: { type: 'varchar', length: 100, primary: true },
        properties: { type: 'text', default: '{}' },
        changeids: { type: 'text', default: '[]' },
        parent_buildid: { type: 'integer', nullable: true },
        armed_at: { ...ms, nullable: false },
      },
    }),
    new EntitySchema<ArtifactRow>({
      name: 'Artifact',
      tableName: 'artifacts',
      columns: {
        id,
        buildid: { type: 'integer' },
        stepid: { type: 'integer' },
        name: { type: 'varchar', length: 200 },
        path: { type: 'text' },
        size: { type: 'bigint', transformer: bigintAsNumber },
        sha256: { type: 'varchar', length: 64 },
        created_at: { ...ms, nullable: false },
      },
      indices: [{ columns: ['buildid', 'name'], unique: true }],
      foreignKeys: [
        { target: 'Build', columnNames: ['buildid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
        { target: 'Step', columnNames: ['stepid'], referencedColumnNames: ['id'], onDelete: 'CASCADE' },
      ],
    }),
    new EntitySchema<ReporterOutboxRow>({
      name: 'ReporterOutbox',
      tableName: 'reporter_outbox',
      columns: {
        id,
        reporter: { type: 'varchar', length: 200 },
        buildid: { type: 'integer' },
        seq: { type: 'integer' },
        payload: { type: 'text' },
        delivery_id: { type: 'varchar', length: 36, unique: true },
        state: { type: 'varchar', length: 10, default: 'pending' },
        attempts: { type: 'integer', default: 0 },
        next_attempt_at: { ...ms, nullable: false },
        claimed_by_masterid: { type: 'integer', nullable: true },
        claimed_until: ms,
        delivered_at: ms,
        failed_at: ms,
        last_error: { type: 'text', nullable: true },
        created_at: { ...ms, nullable: false },
      },
      indices: [{ columns: ['reporter', 'buildid', 'seq'], unique: true }, { columns: ['reporter', 'state', 'next_attempt_at'] }],
    }),
  ];
}

export interface MetricPointRow {
  id: number;
  series: string;
  time: number; // epoch microseconds
  value: number;
  builder: string | null;
  step: string | null;
  agent: string | null;
  result: string | null;
  /** User tags as `\u001fk=v\u001fk=v\u001f` (sorted), so one LIKE finds a tag without JSON functions. */
  tagset: string;
  build_number: number | null;
  buildid: number | null;
  /** A repeated measurement's samples, a JSON array of numbers; null for a single one. */
  samples: string | null;
}
export interface MetricSeriesRow {
  id: number;
  name: string;
  kind: string;
  unit: string | null;
  tag_keys: string; // JSON array
}
export interface MetricStateRow {
  key: string;
  last_value: number | null;
  total: number;
}
export interface MetricSpoolRow {
  id: number;
  lines: string; // InfluxDB line protocol, one point per line
  points: number;
  created_at: number;
  /** The masters row of the master that spooled it; null for rows from before owners were kept. */
  owner: number | null;
}

export function metricEntities(kind: DbKind) {
  const t = columnTypes(kind);
  return [
    new EntitySchema<MetricPointRow>({
      name: 'MetricPoint',
      tableName: 'metric_points',
      columns: {
        id,
        series: { type: 'varchar', length: 200 },
        time: { type: 'bigint', transformer: bigintAsNumber },
        value: { type: t.float },
        builder: { type: 'varchar', length: 100, nullable: true },
        step: { type: 'varchar', length: 150, nullable: true },
        agent: { type: 'varchar', length: 100, nullable: true },
        result: { type: 'varchar', length: 20, nullable: true },
        tagset: { type: 'text', default: '' },
        build_number: { type: 'integer', nullable: true },
        buildid: { type: 'integer', nullable: true },
        samples: { type: 'text', nullable: true },
      },
      indices: [
        { columns: ['series', 'time'] },
        { columns: ['series', 'builder', 'time'] },
        // A step's newest points (the regression watcher's reads), for reads naming a step only: migration 0021.
        { columns: ['series', 'builder', 'step', 'time'], where: '"step" IS NOT NULL' },
        { columns: ['buildid'] },
        { columns: ['series', 'value'] },
        { columns: ['series', 'builder', 'value'] },
      ],
    }),
    new EntitySchema<MetricSeriesRow>({
      name: 'MetricSeries',
      tableName: 'metric_series',
      columns: {
        id,
        name: { type: 'varchar', length: 200, unique: true },
        kind: { type: 'varchar', length: 20 },
        unit: { type: 'varchar', length: 30, nullable: true },
        tag_keys: { type: 'text', default: '[]' },
      },
    }),
    new EntitySchema<MetricStateRow>({
      name: 'MetricState',
      tableName: 'metric_state',
      columns: {
        key: { type: 'varchar', length: 600, primary: true },
        last_value: { type: t.float, nullable: true },
        total: { type: t.float, default: 0 },
      },
    }),
    new EntitySchema<MetricSpoolRow>({
      name: 'MetricSpool',
      tableName: 'metric_spool',
      columns: {
        id,
        lines: { type: 'text' },
        points: { type: 'integer' },
        created_at: { type: 'bigint', transformer: bigintAsNumber },
        owner: { type: 'integer', nullable: true },
      },
    }),
  ];
}
