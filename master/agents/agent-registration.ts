/**
 * What happens when an agent's hello has been accepted: its session is attached in the registry
 * (which takes over the runs it still has, claims its name and announces it), then the agent is
 * recorded in the database as connected to this master, and its disconnect when the session closes.
 * Returns the runs the agent should resume.
 *
 * Nothing is awaited before the session is attached: a close, or another hello of the same name,
 * that came while the master waited for the database would find the agent neither attached nor
 * gone (a run it announced left waiting, a second connection welcomed). The database row says what
 * the master knows; its writes follow in order per agent (a disconnect is never stored before the
 * connect it follows), are retried while the database is away, and never refuse the agent.
 */
import type { Logger } from '../../core/logger.ts';
import { retry } from '../../core/retry.ts';
import { isTransientError } from '../../core/transient-error.ts';
import type { Repositories } from '../db/repositories.ts';
import type { AgentInfo, AgentRegistry } from './agent-registry.ts';
import type { AgentSession } from './agent-session.ts';

export interface AgentRegistrationDeps {
  registry: AgentRegistry;
  repos: Repositories;
  masterid: number;
  graceMs: number;
  log: Logger;
  now: () => number;
}

export type RegisterSession = (session: AgentSession, info: AgentInfo, agentRuns: string[]) => Promise<string[]>;

export function agentRegistration(deps: AgentRegistrationDeps): RegisterSession {
  const { registry, repos, log } = deps;
  const record = agentRowWriter(log);
  // No await in here (see above): the promise is settled when this returns.
  return async (session, info, agentRuns) => {
    const config = registry.config(session.name);
    if (!config) {
      session.close('unknown agent');
      return [];
    }
    const connectedAt = deps.now();
    const resume = registry.attach(config, session, info, agentRuns, connectedAt);
    record(session.name, 'connected', () => repos.agents.connected(session.name, info, deps.masterid, connectedAt));
    session.onClosed(() => {
      record(session.name, 'disconnected', () => repos.agents.disconnected(session.name));
      log.info('agent disconnected', { agent: session.name, graceMs: deps.graceMs });
    });
    log.info(resume.length > 0 ? 'agent reconnected' : 'agent connected', { agent: session.name, os: info.os, resumed: resume.length });
    return resume;
  };
}

/** Writes of agent rows, one after another per agent, each retried while the database is away. */
function agentRowWriter(log: Logger): (agent: string, what: string, write: () => Promise<void>) => void {
  const last = new Map<string, Promise<void>>();
  return (agent, what, write) => {
    const next = (last.get(agent) ?? Promise.resolve())
      .then(() => retry(write, { isRetryable: isTransientError }))
      .catch((e: unknown) => log.warn('recording the agent failed', { agent, what, error: String(e) }));
    last.set(agent, next);
  };
}
