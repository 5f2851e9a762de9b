/**
 * Collapses queued requests (Buildbot's collapseRequests): when a request is submitted, the queued
 * requests of its builder that it makes redundant end SKIPPED (claimed by this master and complete,
 * as Buildbot marks them), so that only the newest is built. Off unless the builder's
 * `collapseRequests` (or, when it has none, the top-level one) is true or a function.
 *
 * `true` is Buildbot's rule (BuildRequest.canBeCollapsed), read on Caliper's requests, whose source
 * is in their properties (`repository`, `branch`, `project`, `codebase`, `revision`) and whose
 * changes are linked to them. An older queued request collapses into the new one when:
 *   - it is older (a smaller id), and
 *   - it builds the same matrix cell (or neither is a cell), and
 *   - its repository, branch, project and codebase are the new one's, and
 *   - both build changes (whichever), or neither does and their revision is the same, and
 *   - their other properties are equal, apart from `scheduler` and those their changes brought (a
 *     change's own properties): Buildbot compares the properties the scheduler set; in Caliper
 *     those of a force are the scheduler's too, so a force with other properties is not collapsed.
 * Buildbot also collapses two requests of one buildset at once; here those are the cells of one
 * matrix build, which are never the same build, so that short cut is left out.
 * A function `(builder, newer, older) => boolean` (may be async) decides instead; it is asked about
 * every other queued request of the builder, and only `true` collapses. One that throws or hangs is
 * logged and collapses nothing.
 *
 * States: running -> stopped. New requests are taken one at a time in the order they were announced,
 * so of two submitted together the newer finds the older still queued; stop() waits for the one
 * under way. A new request that is claimed or complete by its turn collapses nothing.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/error-message.ts';
import { Results } from '../../core/results.ts';
import type { CompiledBuilder } from '../config/compile.ts';
import type { Repositories } from '../db/repositories.ts';
import type { BuildRequestRow } from '../db/entities.ts';
import type { EventBus } from '../events/event-bus.ts';
import { SOURCE_ATTRS } from '../../steps/properties/interpolate-syntax.ts';
import { isRecord } from '../../core/is-record.ts';
import { HOOK_FAILED, callHook, queueBuilder, queuedRequest, type CollapseRequestsFn } from './queue-hooks.ts';

export interface CollapserDeps {
  repos: Repositories;
  bus: Pick<EventBus, 'publish'>;
  log: Logger;
  masterid: number;
  now: () => number;
  buildersById: ReadonlyMap<number, CompiledBuilder>;
  /** The top-level `collapseRequests`: for builders that set none. */
  collapseRequests: boolean | CollapseRequestsFn;
}

/** Queued requests a new one is compared with, oldest first; with collapsing on, a queue stays far shorter. */
const MAX_COMPARED = 1000;

/** A request as the rule compares it. */
export interface Compared {
  row: BuildRequestRow;
  /** Null when its stored properties cannot be read: it is never collapsed. */
  properties: Record<string, unknown> | null;
  /** The names of the properties its changes brought; null when it builds no change. */
  changeProperties: Set<string> | null;
}

export class RequestCollapser {
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: CollapserDeps) {}

  /** A request was stored and announced (`buildrequest.new`): collapse what it makes redundant. */
  offer(request: { buildrequestid: number; builderid: number }): void {
    if (this.stopped) return;
    const builder = this.deps.buildersById.get(request.builderid);
    if (!builder) return;
    const rule = builder.collapseRequests ?? this.deps.collapseRequests;
    if (rule === false) return;
    this.chain = this.chain
      .then(() => this.collapse(request.buildrequestid, builder, rule))
      .catch((e: unknown) =>
        this.deps.log.error('collapsing requests failed', {
          builder: builder.name,
          buildrequestid: request.buildrequestid,
          error: errorMessage(e),
        }),
      );
  }

  /** Takes no more requests; resolves once the one under way is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
  }

  private async collapse(id: number, builder: CompiledBuilder, rule: true | CollapseRequestsFn): Promise<void> {
    const { repos, log } = this.deps;
    if (this.stopped) return;
    const newer = await repos.buildRequests.get(id);
    if (!newer || newer.complete || newer.claimed_by_masterid !== null) return;
    const queued = (await repos.buildRequests.queued(newer.builderid, MAX_COMPARED)).filter((r) => r.id !== id);
    if (queued.length === 0) return;
    const redundant = rule === true ? await this.sameSource(newer, queued) : await this.byFunction(rule, builder, newer, queued);
    for (const older of redundant) {
      if (this.stopped) return;
      // Conditional, as a claim: one another master (or the claimer) took meanwhile is left alone.
      if (!(await repos.buildRequests.skipUnclaimed(older.id, this.deps.masterid, this.deps.now()))) continue;
      this.deps.bus.publish('buildrequest.complete', { buildrequestid: older.id, results: Results.SKIPPED });
      log.info('build request collapsed into a newer one', { builder: builder.name, buildrequestid: older.id, into: newer.id });
    }
  }

  private async sameSource(newer: BuildRequestRow, queued: BuildRequestRow[]): Promise<BuildRequestRow[]> {
    const changes = await this.deps.repos.buildRequests.changePropertiesOf([newer.id, ...queued.map((r) => r.id)]);
    const compared = (row: BuildRequestRow): Compared => ({
      row,
      properties: readObject(row.properties),
      changeProperties: changes.has(row.id)
        ? new Set((changes.get(row.id) ?? []).flatMap((text) => Object.keys(readObject(text) ?? {})))
        : null,
    });
    const n = compared(newer);
    return queued.filter((row) => canBeCollapsed(n, compared(row)));
  }

  private async byFunction(
    fn: CollapseRequestsFn,
    builder: CompiledBuilder,
    newer: BuildRequestRow,
    queued: BuildRequestRow[],
  ): Promise<BuildRequestRow[]> {
    const view = queueBuilder(builder);
    const redundant: BuildRequestRow[] = [];
    for (const older of queued) {
      const answer = await callHook(
        this.deps.log,
        'collapseRequests',
        { builder: builder.name, buildrequestid: newer.id, older: older.id },
        () => fn(view, queuedRequest(newer, builder.name), queuedRequest(older, builder.name)),
      );
      if (answer === HOOK_FAILED) return redundant; // a broken function is not asked again for this request
      if (answer === true) redundant.push(older);
    }
    return redundant;
  }
}

/** Buildbot's rule (see the header), for `older` queued before `newer` was submitted. */
export function canBeCollapsed(newer: Compared, older: Compared): boolean {
  if (older.row.id > newer.row.id || newer.row.matrix !== older.row.matrix) return false;
  const a = newer.properties;
  const b = older.properties;
  if (a === null || b === null) return false;
  for (const attr of ['repository', 'branch', 'project', 'codebase'] as const) if (!isDeepStrictEqual(a[attr], b[attr])) return false;
  if ((newer.changeProperties === null) !== (older.changeProperties === null)) return false;
  if (newer.changeProperties === null && !isDeepStrictEqual(a.revision, b.revision)) return false;
  const ignored = new Set<string>([...SOURCE_ATTRS, 'scheduler', ...(newer.changeProperties ?? []), ...(older.changeProperties ?? [])]);
  const names = new Set([...Object.keys(a), ...Object.keys(b)].filter((name) => !ignored.has(name)));
  for (const name of names) if (!isDeepStrictEqual(a[name], b[name])) return false;
  return true;
}

function readObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}
