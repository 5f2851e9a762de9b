/**
 * The Data API's answers (docs/api.md): one set of types that the server's serializers produce
 * (master/api/*.ts), the web UI reads (frontend/src) and the tests check (test/helpers/api.ts), so a
 * field the UI reads cannot drift from what the server sends. Every field listed is always sent,
 * unless the request selects fields (`?field=a,b`): then an item holds only those.
 * Times are epoch seconds (fractions allowed).
 */
import type { Result, ResultName } from '../core/results.ts';

export type { Result, ResultName };

/** Every result name, for the UI's badges. */
export const RESULT_NAMES = [
  'success',
  'warnings',
  'failure',
  'skipped',
  'exception',
  'retry',
  'cancelled',
] as const satisfies readonly ResultName[];

/** What JSON can hold: a property's value, a request's properties. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Links {
  grafana?: string;
  influxdb?: string;
}

/** `GET /api/v2/ui`: what the web UI needs to know of the configuration (no secrets). */
export interface UiInfo {
  title: string;
  auth: boolean;
  grafana: { url: string; dashboardUid: string; orgId: number } | null;
  influxdb: { url: string; database: string } | null;
}

/**
 * What index.html carries for the UI's first render (a JSON script, id `caliper-boot`): the answers
 * of GET /api/v2/ui, /auth/methods and /auth/me, so no page waits a round trip for them.
 */
export interface UiBoot {
  /** Left out for a visitor not logged in to a read-protected master. */
  ui?: UiInfo;
  /** Null on a master without web.auth (no /auth). */
  auth: {
    methods: { password: boolean; oidc: { name: string } | null; readProtected: boolean };
    /** Null when the request had no valid session. */
    me: { username: string; roles: string[]; builders: Record<string, string[]> } | null;
  } | null;
}

export interface LastBuild {
  buildid: number;
  number: number;
  results: Result | null;
  result: ResultName | null;
  complete_at: number | null;
}

export interface Builder {
  builderid: number;
  name: string;
  description: string | null;
  tags: string[];
  last_build: LastBuild | null;
  running: number;
  /** Seconds, over the builder's recent finished builds. */
  average_duration: number | null;
  links: Links;
  /** A matrix builder's axis names, in the order declared (one build per cell); absent for other builders. */
  matrix?: { axes: string[] };
}

/** Buildbot's shape of a build property: its value and where it came from. */
export type PropertyEntry = [value: JsonValue, source: string];

export interface Build {
  buildid: number;
  builderid: number;
  /** Null when the builder is no longer configured. */
  builder_name: string | null;
  number: number;
  buildrequestid: number;
  masterid: number;
  agent: string;
  started_at: number;
  complete_at: number | null;
  complete: boolean;
  results: Result | null;
  result: ResultName | null;
  state_string: string;
  properties: Record<string, PropertyEntry>;
  links: Links;
  /** A matrix cell's axis values (its properties of source 'Matrix'); absent for a build that is no cell. */
  matrix?: Record<string, string>;
}

export interface BuildRequest {
  buildrequestid: number;
  builderid: number;
  /** The set of requests one scheduler submitted together (Buildbot's buildset); null for rows older than buildsets. */
  buildsetid: number | null;
  reason: string;
  priority: number;
  properties: Record<string, JsonValue>;
  submitted_at: number;
  claimed: boolean;
  claimed_at: number | null;
  claimed_by_masterid: number | null;
  complete: boolean;
  complete_at: number | null;
  results: Result | null;
  result: ResultName | null;
  /** The build whose Trigger step made this request. */
  parent_buildid: number | null;
  /** The matrix cell it builds (axis name -> value); absent for a request that is no cell. */
  matrix?: Record<string, string>;
}

/**
 * `GET /buildsets/{id}`: the requests one submission made (Buildbot's buildset). A matrix build's
 * parent: one request per cell, its result the worst of theirs once all are complete.
 */
export interface Buildset {
  buildsetid: number;
  scheduler: string | null;
  reason: string;
  submitted_at: number;
  parent_buildid: number | null;
  complete: boolean;
  /** Worst of the requests' results once all are complete; null before. */
  results: Result | null;
  result: ResultName | null;
  /** The axis names when its requests are matrix cells, in the order they were declared; else []. */
  axes: string[];
  requests: BuildsetRequest[];
}
/** A request of a buildset (a matrix cell) with its newest build. */
export interface BuildsetRequest {
  buildrequestid: number;
  builderid: number;
  builder_name: string | null;
  matrix: Record<string, string> | null;
  complete: boolean;
  results: Result | null;
  result: ResultName | null;
  /** Its newest build; null while it waits for an agent. */
  buildid: number | null;
  build_number: number | null;
  build_complete: boolean;
}
/** `POST /buildsets/{id}/stop` (202). */
export interface BuildsetStopped {
  buildsetid: number;
  /** Requests ended CANCELLED before any agent took them. */
  cancelled: number[];
  /** Running builds asked to stop. */
  stopping: number[];
}

export interface Change {
  changeid: number;
  repository: string;
  branch: string | null;
  revision: string;
  author: string;
  comments: string;
  files: string[];
  /** What the change came with: a pull request's pr_number, pr_title, base_branch, … */
  properties: Record<string, unknown>;
  project: string;
  category: string | null;
  when_timestamp: number;
  created_at: number;
}

export interface Step {
  stepid: number;
  buildid: number;
  number: number;
  name: string;
  started_at: number | null;
  complete_at: number | null;
  complete: boolean;
  results: Result | null;
  result: ResultName | null;
  state_string: string;
  hidden: boolean;
}

export interface Log {
  logid: number;
  stepid: number;
  name: string;
  slug: string;
  /** `s` stdio, `t` text. */
  type: string;
  num_lines: number;
  num_bytes: number;
  complete: boolean;
  /** When the retention janitor removed the log's contents (epoch ms); null while they are kept. */
  expired_at: number | null;
}

export interface LogChunk {
  logid: number;
  firstline: number;
  content: string;
}

/** What a connected agent said of itself in its hello. */
export interface AgentInfo {
  os: string;
  version: string;
  labels: string[];
  capacity: number;
}

export interface Agent {
  /** Null until the agent has connected once. */
  agentid: number | null;
  name: string;
  labels: string[];
  maxBuilds: number;
  connected: boolean;
  running_builds: number;
  info: AgentInfo | null;
  last_connected_at: number | null;
}

export interface MetricSeries {
  series: string;
  kind: string;
  unit: string | null;
  tagKeys: string[];
  links: Links;
  /** The smallest step its values move in (a CPU time's clock tick), the regression spread's floor; 0 when none is known. */
  resolution: number;
}

export interface Baseline {
  median: number;
  spread: number;
  n: number;
}

export interface MetricPoint {
  series: string;
  time: number;
  value: number;
  tags: Record<string, string>;
  build_number: number | null;
  buildid: number | null;
  /** A repeated measurement's samples in run order (MeasureShellCommand `repeat`); `value` is their median. */
  samples?: number[];
}

/**
 * A build's point with the baseline of its series over the builder's last successful builds (for a
 * pull-request build: those of its base branch) and the delta against it.
 */
export interface BuildMetric extends MetricPoint {
  baseline: Baseline | null;
  score: number | null;
  /** The series' kind and unit, as registered ('size', 'duration', …); null for an unknown series. */
  kind: string | null;
  unit: string | null;
  /** (value − baseline median) / |median| × 100; null without a baseline or when the median is 0. */
  delta_percent: number | null;
  /** 'regression' when the score is beyond the threshold in the bad direction for the kind, 'improvement' the other way. */
  flag: 'regression' | 'improvement' | null;
  /** The base branch the baseline came from, for a pull-request build; null: the builder's own builds. */
  baseline_branch: string | null;
}

/** `GET /api/v2/metrics/{series}/summary`: what the metrics store computed over the points. */
export interface Summary {
  series: string;
  count: number;
  average: number | null;
  deviation: number | null;
  minimum: number | null;
  maximum: number | null;
  p50: number | null;
  p95: number | null;
  unit: string | null;
  /** Largest relative error of p50/p95: 0 when exact, the sketch's accuracy when read from rollups. */
  percentileError: number;
}

export interface Meta {
  total: number;
}

/** `GET /builds/{id}/artifacts`: a file an upload step kept for the build (FileUpload / DirectoryUpload `artifact`). */
export interface Artifact {
  artifactid: number;
  buildid: number;
  stepid: number;
  /** The name of the step that uploaded it. */
  step: string | null;
  /** Unique within the build. */
  name: string;
  /** Bytes. */
  size: number;
  sha256: string;
  /** Where to download it: `/api/v2/builds/{buildid}/artifacts/{name}` (URL-encoded). */
  url: string;
  created_at: number;
}

/** The collections answered as `{"<name>": [items], "meta": {"total": n}}`, by their name. */
export interface Collections {
  builders: Builder;
  builds: Build;
  buildrequests: BuildRequest;
  changes: Change;
  steps: Step;
  logs: Log;
  logchunks: LogChunk;
  agents: Agent;
  artifacts: Artifact;
  buildsets: Buildset;
  changepoints: ChangePointRecord;
}
export type CollectionName = keyof Collections;

/** One page of a collection; `Page<'builds'>` is `{ builds: Build[]; meta: Meta }`. */
export type Page<K extends CollectionName> = Record<K, Collections[K][]> & { meta: Meta };

/** `GET /metrics`; `regression` is the gate's baseline: the last `window` good builds, flagged beyond `threshold` spreads. */
export interface MetricSeriesPage {
  metrics: MetricSeries[];
  meta: Meta & { regression?: { window: number; threshold: number } };
}
/** `GET /metrics/{series}/tags`: each tag's values among the series' latest points (`points` read). */
export interface SeriesTags {
  tags: Record<string, string[]>;
  meta: Meta & { points: number };
}
/** `GET /builds/{id}/metrics`; `window` is how many successful builds make a baseline. */
export interface BuildMetricsPage {
  metrics: BuildMetric[];
  meta: Meta & { window: number };
}
/** `GET /metrics/{series}/points`. */
export interface PointsPage {
  points: MetricPoint[];
  meta: Meta;
  /** With `?splitBy=<tag>`: the page's points grouped by the tag's values. */
  split?: { tag: string; groups: { value: string; points: MetricPoint[] }[] };
}
/** `GET /metrics/{series}/summary`. */
export interface SummaryAnswer {
  summary: Summary;
  /** With `?splitBy=<tag>`: one summary per value of the tag (a matrix axis, say). */
  split?: { tag: string; groups: { value: string; summary: Summary }[] };
}

/** `POST /builders/{key}/force` and `POST /builds/{id}/rebuild` (202). */
export interface RequestSubmitted {
  buildrequestid: number;
}
/** `POST /builds/{id}/stop` (202). */
export interface StopRequested {
  buildid: number;
  stopping: true;
}
/** `GET /changes/{id}/buildrequests`: the requests that build a change, oldest first. */
export interface ChangeBuildRequests {
  buildrequestids: number[];
}
/** `POST /changes` (201). */
export interface ChangeAdded {
  changeid: number;
}
/** `POST /hooks/github`: the changes stored (201), or why the delivery was ignored (200). */
export type GithubHookAnswer = { changeids: number[] } | { ignored: string } | { ok: true };

/** Every error, whatever the status. */
export interface ErrorAnswer {
  error: { code: string; message: string; details?: unknown };
}

/** A point at either side of a detected change (`GET /metrics/{series}/changes`). */
export interface ChangeEndpoint {
  time: number;
  value: number;
  build_number: number | null;
  buildid: number | null;
  revision: string | null;
}
/** One change of a series' tag combination, from the change-point detector. */
export interface MetricChange {
  series: string;
  /** The tag combination watched (every tag but `result`, `agent` unless split by it, and `revision`). */
  tags: Record<string, string>;
  /** The last point before the change and the first after it. */
  before: ChangeEndpoint;
  after: ChangeEndpoint;
  mean_before: number;
  mean_after: number;
  stddev_before: number;
  stddev_after: number;
  /** Points in the segments on either side. */
  points_before: number;
  points_after: number;
  magnitude_percent: number | null;
  p_value: number;
  change: 'increase' | 'decrease';
  verdict: 'better' | 'worse';
}
export interface MetricChangesPage {
  changes: MetricChange[];
  meta: Meta & { kind: string; points: number };
}
/** `POST /metrics/{series}/points`. */
export interface PointsAdded {
  points: MetricPoint[];
}

/** A builder as the console, grid and waterfall show it: a column (console) or a row (grid, waterfall). */
export interface ViewBuilder {
  builderid: number;
  name: string;
  tags: string[];
}
/**
 * A request of one builder for one change, with its build: a console cell holds these (several when
 * the change was rebuilt). A request still waiting, or one that ended without a build (cancelled,
 * skipped), has `buildid` null.
 */
export interface ConsoleBuild {
  builderid: number;
  buildrequestid: number;
  buildid: number | null;
  number: number | null;
  /** The build finished (or, without a build, the request ended). */
  complete: boolean;
  results: Result | null;
  result: ResultName | null;
  started_at: number | null;
  complete_at: number | null;
}
/** A change with the builds of it on the answer's builders, oldest first. */
export interface ConsoleChange extends Change {
  builds: ConsoleBuild[];
}
/** `GET /console`: the changes (newest first, one page) × the builders (configuration's order). */
export interface ConsoleAnswer {
  builders: ViewBuilder[];
  changes: ConsoleChange[];
  /** `total`: changes matching the branch filter, across all pages. */
  meta: Meta;
}
/** A build as a waterfall bar. */
export interface TimelineBuild {
  buildid: number;
  builderid: number;
  number: number;
  started_at: number;
  complete_at: number | null;
  complete: boolean;
  results: Result | null;
  result: ResultName | null;
}
/** `GET /waterfall`: the builds overlapping the window [from, to] (the master's clock), oldest first. */
export interface WaterfallAnswer {
  builders: ViewBuilder[];
  builds: TimelineBuild[];
  /** `total`: builds in the window (more than `builds` holds when over the limit). */
  meta: Meta & { from: number; to: number };
}

/** A bisection (`GET /api/v2/bisections`, docs/metrics.md "Bisection"): a change point narrowed to its culprit commit. */
export interface Bisection {
  bisectionid: number;
  builderid: number;
  builder: string | null;
  series: string;
  tags: Record<string, string>;
  branch: string | null;
  good: string;
  bad: string;
  /** The change point that started it; null when started by hand. */
  changepointid: number | null;
  state: 'running' | 'found' | 'inconclusive';
  /** Why it ended without a culprit (budget, a failed build, …). */
  reason: string | null;
  /** Commits after good up to bad (first-parent); 0 until listed. */
  commits: number;
  /** Builds it requested (the budget counts these), repeats included. */
  builds_requested: number;
  culprit: { revision: string; author: string | null; email: string | null; subject: string | null } | null;
  created_at: number;
  finished_at: number | null;
}

/** One build a bisection read: requested (`buildrequestid`) or borrowed for a side (null). */
export interface BisectionBuild {
  buildrequestid: number | null;
  buildid: number | null;
  state: 'pending' | 'done';
  results: Result | null;
  result: ResultName | null;
  /** The series' values it measured. */
  samples: number[];
}

/** One commit the bisection looked at, in the order it did. */
export interface BisectionStep {
  revision: string;
  /** Its place in good..bad: 0 the first commit after good; -1 good itself. */
  position: number;
  /** 'good' and 'bad' are the two ends; 'commit' one in between. */
  role: 'good' | 'bad' | 'commit';
  builds: BisectionBuild[];
  /** null while undecided (its builds pending, or a repeat asked for). */
  verdict: 'good' | 'bad' | null;
  /** How it was decided: rank test, median, or borderline with the figures. */
  how: string | null;
}

/** `GET /api/v2/bisections/:id`. */
export interface BisectionDetail {
  bisection: Bisection;
  steps: BisectionStep[];
}

/** `GET /api/v2/bisections`. */
export interface BisectionList {
  bisections: Bisection[];
  meta: Meta;
}

/** `POST /api/v2/bisections`: the new bisection's id. */
export interface BisectionStarted {
  bisectionid: number;
}

/** A stored change point of a watched series (`GET /changepoints`, master/regressions). */
export interface ChangePointRecord {
  changepointid: number;
  series: string;
  /** The tag combination watched (builder, step, branch, user tags; agent only for a builder watched per agent). */
  tags: Record<string, string>;
  builderid: number | null;
  builder: string | null;
  branch: string | null;
  /** The last point before the change and the first after it (`time`: epoch seconds). */
  before: { buildid: number | null; revision: string | null };
  after: { buildid: number | null; revision: string | null; time: number };
  mean_before: number;
  mean_after: number;
  /** Relative change of the mean, in percent (signed); null when the mean before is 0. */
  magnitude_percent: number | null;
  p_value: number;
  /** Better or worse by the series' kind (a ratio is worse lower; times, sizes and counts higher). */
  direction: 'better' | 'worse';
  /** confirming: its reruns are pending; confirmed: it holds (or needed none); dismissed: the reruns did not repeat it. */
  state: 'confirming' | 'confirmed' | 'dismissed';
  /** Confirming reruns requested (0: none), and the values of those finished (null: measured nothing). */
  reruns: number;
  rerun_values: (number | null)[];
  /** The build whose points revealed it. */
  detected_by: number | null;
  /** Whether the reporters were handed it (worse and confirmed only). */
  alerted: boolean;
  created_at: number;
  decided_at: number | null;
}
