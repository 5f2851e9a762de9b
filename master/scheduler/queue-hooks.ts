/**
 * What a config may say about the queue with functions (Buildbot's prioritizeBuilders, nextWorker,
 * canStartBuild, collapseRequests), the views of builders, requests and agents those functions get,
 * and how the master calls them: awaited (a function may be async), bounded in time, and any
 * exception logged without ever stopping the claimer.
 */
import type { Logger } from '../../core/logger.ts';
import { errorMessage } from '../../core/error-message.ts';
import type { BuildRequestRow } from '../db/entities.ts';
import { parsePropertyValues, type PropertyValue } from '../../steps/properties/properties.ts';

/** A builder as the queue functions see it. */
export interface QueueBuilder {
  name: string;
  /** Its `priority` (default 0): the priority of its requests when neither force nor scheduler gives one. */
  priority: number;
  tags: string[];
}

/** A builder with queued requests, as `prioritizeBuilders` sees it. */
export interface PendingBuilder extends QueueBuilder {
  /** When its oldest queued request was submitted. */
  oldestRequestTime: Date;
  /** The highest priority among its queued requests. */
  highestPriority: number;
}

/** A queued build request, as the queue functions see it. */
export interface QueuedRequest {
  buildrequestid: number;
  builderName: string;
  /** The requests submitted together (one per builder) share it; null for requests older than buildsets. */
  buildsetid: number | null;
  reason: string;
  priority: number;
  properties: Record<string, PropertyValue>;
  submittedAt: Date;
}

/** A connected agent that could take the build now, as `nextAgent` and `canStartBuild` see it. */
export interface AgentChoice {
  name: string;
  /** Its configured labels and those its hello added. */
  labels: string[];
  /** Builds it runs now. */
  running: number;
  /** Builds it may run at once: the lower of its `maxBuilds` and the capacity it reported. */
  maxBuilds: number;
  os: string;
  version: string;
}

/** Orders the builders whose requests the claimer tries (first first); builders left out wait for the next pass. */
export type PrioritizeBuilders = (
  builders: PendingBuilder[],
) => readonly (PendingBuilder | string)[] | Promise<readonly (PendingBuilder | string)[]>;
/** Picks the agent for a request among those free for it; null (or anything not offered): none, the request waits. */
export type NextAgent = (
  builder: QueueBuilder,
  agents: AgentChoice[],
  request: QueuedRequest,
) => AgentChoice | string | null | undefined | Promise<AgentChoice | string | null | undefined>;
/** Whether this agent may run this request now; false: another agent is tried. */
export type CanStartBuild = (builder: QueueBuilder, agent: AgentChoice, request: QueuedRequest) => boolean | Promise<boolean>;
/** Whether `older` (queued) is made redundant by `newer` (just submitted): then `older` is skipped. */
export type CollapseRequestsFn = (builder: QueueBuilder, newer: QueuedRequest, older: QueuedRequest) => boolean | Promise<boolean>;

/** How long a queue function may take before the master gives up on it (and logs it): the claimer waits meanwhile. */
export const HOOK_TIMEOUT_MS = 5_000;

export function queueBuilder(builder: { name: string; priority?: number | undefined; tags?: string[] | undefined }): QueueBuilder {
  return { name: builder.name, priority: builder.priority ?? 0, tags: [...(builder.tags ?? [])] };
}

export function queuedRequest(row: BuildRequestRow, builderName: string): QueuedRequest {
  return {
    buildrequestid: row.id,
    builderName,
    buildsetid: row.buildsetid,
    reason: row.reason,
    priority: row.priority,
    properties: parsePropertyValues(row.properties, `build request ${row.id}'s properties`),
    submittedAt: new Date(row.submitted_at),
  };
}

/** What agentChoice() reads of an agent (the registry's AgentEntry has it). */
interface AgentFacts {
  config: { name: string; labels: readonly string[]; maxBuilds: number };
  info: { labels: readonly string[]; capacity: number; os: string; version: string };
  running: number;
}

export function agentChoice(agent: AgentFacts): AgentChoice {
  return {
    name: agent.config.name,
    labels: [...agent.config.labels, ...agent.info.labels],
    running: agent.running,
    maxBuilds: Math.min(agent.config.maxBuilds, agent.info.capacity),
    os: agent.info.os,
    version: agent.info.version,
  };
}

/** Marks a call of a queue function that threw, timed out or answered nonsense: it was logged. */
export const HOOK_FAILED = Symbol('queue function failed');

/**
 * Calls a queue function: its answer, or HOOK_FAILED once the failure is logged (with the function's
 * name and `context`). Never throws.
 */
export async function callHook<T>(
  log: Logger,
  hook: string,
  context: Record<string, unknown>,
  call: () => T | Promise<T>,
  timeoutMs = HOOK_TIMEOUT_MS,
): Promise<T | typeof HOOK_FAILED> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return await Promise.race([Promise.resolve().then(call), timeout]);
  } catch (e) {
    log.error(`${hook} failed; the queue goes on without it`, { ...context, error: errorMessage(e) });
    return HOOK_FAILED;
  } finally {
    clearTimeout(timer);
  }
}
