/**
 * How the SQL store reads many series' newest points at once (SqlMetricsStore.recentPoints): which
 * SELECTs to make, and which query each row answers. Pure: the store runs the branches it is given,
 * as one UNION ALL per batch, and hands back each branch's rows.
 *
 * Queries that differ only in their step are read together, as one branch without the step, from
 * the earliest of their times: one range of the builder's points over (series, builder, time), each
 * new point read once. (It was needed when the indexes held the builder but not the step: a branch
 * per step walked every later point of the builder's other steps, S² index entries and rows at the
 * end of a build of S steps. Migration 0021's (series, builder, step, time) index makes a read of
 * one step direct, which the reads alone below use.) That branch reads at most GROUP_ROWS_PER_QUERY
 * rows per query; a query whose points it did not reach (a step last run long ago) is read on its
 * own in a second round. A read of a whole history (a detector seeded) is always alone: read
 * together, the steps' reads would be one long statement (SQLite's holds the event loop), and it
 * happens once per series, not per build.
 */
import type { MetricPoint } from '../metric-point.ts';
import { userTagFilter } from '../series-filter.ts';
import type { RecentPointsQuery } from './metrics-store.ts';

/**
 * Series read by one statement: each is a branch of a UNION ALL, and SQLite allows 500 branches and
 * (before 3.32) 999 bound values; a branch binds at most a dozen.
 */
export const RECENT_PER_STATEMENT = 50;
/** Rows one statement may read (expectedRows): two reads of a whole history of 400 points. */
export const RECENT_ROWS_PER_STATEMENT = 1000;
/** Rows a read of several steps' points together may read per step before the steps it missed are read alone. */
const GROUP_ROWS_PER_QUERY = 8;

/** One SELECT: a query, and the queries (by position) it answers. */
export interface Branch {
  query: RecentPointsQuery;
  members: number[];
}

/**
 * The rows a branch is expected to read: its limit for a whole history; from a time on, what came
 * since the last build, a few per query (GROUP_ROWS_PER_QUERY, which bounds a read of steps together).
 */
export function expectedRows(b: Branch): number {
  return b.query.sinceUs === undefined ? b.query.limit : Math.min(b.query.limit, b.members.length * GROUP_ROWS_PER_QUERY);
}

/** A round of reads: its branches, and what their rows (oldest first, one list per branch) answer. */
export interface ReadRound<T> {
  branches: Branch[];
  answer(rows: MetricPoint[][]): T;
}

/** Two rounds: the first's answer is the second round, whose answer is every query's points, in order. */
export function planRecentReads(queries: readonly RecentPointsQuery[]): ReadRound<ReadRound<MetricPoint[][]>> {
  const alone: Branch[] = [];
  const together = new Map<string, Branch>();
  queries.forEach((q, i) => {
    const { step, ...rest } = q.filter;
    if (step === undefined || q.sinceUs === undefined) return alone.push({ query: q, members: [i] });
    const key = JSON.stringify([rest.series, rest.builder, rest.agent, rest.result, userTagFilter(rest), rest.from, rest.to]);
    const group = together.get(key);
    if (!group) together.set(key, { query: { filter: rest, sinceUs: q.sinceUs, limit: GROUP_ROWS_PER_QUERY }, members: [i] });
    else {
      group.members.push(i);
      const sinceUs = Math.min(group.query.sinceUs ?? q.sinceUs, q.sinceUs);
      group.query = { ...group.query, sinceUs, limit: group.query.limit + GROUP_ROWS_PER_QUERY };
    }
  });
  const grouped: Branch[] = [];
  for (const group of together.values()) {
    const [only] = group.members;
    const q = only === undefined ? undefined : queries[only];
    if (group.members.length === 1 && q) alone.push({ query: q, members: group.members });
    else grouped.push(group);
  }
  const out: (MetricPoint[] | undefined)[] = queries.map(() => undefined);
  return {
    branches: [...alone, ...grouped],
    answer: (first) => {
      alone.forEach((b, k) => {
        const [i] = b.members;
        if (i !== undefined) out[i] = first[k] ?? [];
      });
      const again: Branch[] = [];
      grouped.forEach((b, k) => {
        for (const i of splitGroup(b, first[alone.length + k] ?? [], queries, out))
          again.push({ query: queries[i] as RecentPointsQuery, members: [i] });
      });
      return {
        branches: again,
        answer: (second) => {
          again.forEach((b, k) => {
            const [i] = b.members;
            if (i !== undefined) out[i] = second[k] ?? [];
          });
          return out.map((points) => points ?? []);
        },
      };
    },
  };
}

/**
 * A read of several steps together, shared out among its queries (into `out`); the queries it may
 * not have answered in full come back, to be read alone.
 */
function splitGroup(b: Branch, rows: MetricPoint[], queries: readonly RecentPointsQuery[], out: (MetricPoint[] | undefined)[]): number[] {
  // Read newest first down to `oldest`: complete above it; at it, points of that time may be missing.
  const truncated = rows.length >= b.query.limit;
  const oldest = rows[0]?.time ?? Infinity;
  const byStep = new Map<string | undefined, MetricPoint[]>();
  for (const p of rows) {
    const same = byStep.get(p.tags.step);
    if (same) same.push(p);
    else byStep.set(p.tags.step, [p]);
  }
  const missed: number[] = [];
  for (const i of b.members) {
    const q = queries[i];
    if (!q) continue;
    const since = q.sinceUs ?? -Infinity;
    const own = (byStep.get(q.filter.step) ?? []).filter((p) => p.time >= since);
    const complete = !truncated || since > oldest || own.filter((p) => p.time > oldest).length >= q.limit;
    if (complete) out[i] = own.slice(-q.limit);
    else missed.push(i);
  }
  return missed;
}
