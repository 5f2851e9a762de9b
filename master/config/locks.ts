/**
 * Locks limit how many builds run at once across builders, as Buildbot's MasterLock and WorkerLock:
 * a builder lists the locks its builds take, each in `counting` access (one of `maxCount`) or
 * `exclusive` access (the whole lock, no one else). A build starts only when all its locks are free.
 */
import { z } from 'zod';

export interface MasterLockConfig {
  type: 'master';
  name: string;
  /** Builds holding it in counting access at once (default 1). */
  maxCount?: number;
}

export interface AgentLockConfig {
  type: 'agent';
  name: string;
  /** Builds holding it in counting access at once on each agent (default 1). */
  maxCount?: number;
  /** Per-agent exceptions to maxCount. */
  maxCountForAgent?: Record<string, number>;
}

export type LockConfig = MasterLockConfig | AgentLockConfig;

/** How a builder takes a lock. */
export interface LockAccess {
  lock: string;
  /** `counting` (default): one of maxCount. `exclusive`: the whole lock. */
  access?: 'counting' | 'exclusive';
}

const lockName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." or "-" only');
const count = z.number().int().min(1).max(10_000);

export const lockSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('master'), name: lockName, maxCount: count.default(1) }),
  z.strictObject({
    type: z.literal('agent'),
    name: lockName,
    maxCount: count.default(1),
    maxCountForAgent: z.record(z.string(), count).default({}),
  }),
]);
export type ParsedLock = z.output<typeof lockSchema>;

export const lockAccessSchema = z.strictObject({ lock: lockName, access: z.enum(['counting', 'exclusive']).default('counting') });
export type ParsedLockAccess = z.output<typeof lockAccessSchema>;

/** One lock for the whole master (every agent): e.g. one deployment at a time. */
export function masterLock(options: Omit<MasterLockConfig, 'type'>): MasterLockConfig {
  return { type: 'master', ...options };
}

/** One lock per agent: e.g. at most one heavy build on each machine. */
export function agentLock(options: Omit<AgentLockConfig, 'type'>): AgentLockConfig {
  return { type: 'agent', ...options };
}
