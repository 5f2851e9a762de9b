/**
 * What happens when an agent's hello has been accepted: the agent is recorded in the database as
 * connected to this master, its session is attached in the registry (which announces it), and its
 * disconnect is recorded when the session closes. Returns the runs the agent should resume.
 */
import type { Logger } from '../../core/logger.ts';
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
  return async (session, info, agentRuns) => {
    const config = registry.config(session.name);
    if (!config) {
      session.close('unknown agent');
      return [];
    }
    // Stored first, then announced (the UI reloads the agent list on the event).
    await repos.agents.connected(session.name, info, deps.masterid, deps.now());
    if (!session.isOpen) {
      // It hung up while the row was written: nothing to attach, and the row must not say connected.
      void repos.agents.disconnected(session.name).catch(() => {});
      return [];
    }
    const resume = registry.attach(config, session, info, agentRuns, deps.now());
    session.onClosed(() => {
      void repos.agents.disconnected(session.name).catch(() => {});
      log.info('agent disconnected', { agent: session.name, graceMs: deps.graceMs });
    });
    log.info(resume.length > 0 ? 'agent reconnected' : 'agent connected', { agent: session.name, os: info.os, resumed: resume.length });
    return resume;
  };
}
