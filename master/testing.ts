/**
 * A test-only handle on a running master's parts. `RunningMaster` shows what a user of the library
 * needs; tests that must look inside (the database, which agents are connected, the running
 * builds) ask for this handle instead of the public object growing internal fields.
 */
import type { AgentRegistry } from './agents/agent-registry.ts';
import type { LiveStream } from './api/live-stream.ts';
import type { RunningBuilds } from './build/running-builds.ts';
import type { Database } from './db/data-source.ts';
import type { Repositories } from './db/repositories.ts';

export interface MasterInternals {
  db: Database;
  repos: Repositories;
  registry: AgentRegistry;
  running: RunningBuilds;
  live: LiveStream;
  masterid: number;
}

// Weak: a stopped master that nobody holds is collected with its parts; nothing to reset between tests.
const handles = new WeakMap<object, MasterInternals>();

export function exposeInternals(master: object, internals: MasterInternals): void {
  handles.set(master, internals);
}

export function internalsOf(master: object): MasterInternals {
  const internals = handles.get(master);
  if (!internals) throw new Error('internalsOf: not a master made by startMaster');
  return internals;
}
