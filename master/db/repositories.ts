import type { Database } from './data-source.ts';
import { AgentsRepo } from './agents.ts';
import { ArtifactsRepo } from './artifacts.ts';
import { BuildersRepo } from './builders.ts';
import { BuildRequestsRepo } from './buildrequests.ts';
import { BuildProgressRepo } from './build-progress.ts';
import { BuildsRepo } from './builds.ts';
import { BuildsetsRepo } from './buildsets.ts';
import { ChangesRepo } from './changes.ts';
import { ConsoleRepo } from './console.ts';
import { LogsRepo } from './logs.ts';
import { MastersRepo } from './masters.ts';
import { StepsRepo } from './steps.ts';
import { plainSql } from './plain-sql.ts';

/** One repository per resource, over one database. */
export interface Repositories {
  builders: BuildersRepo;
  buildRequests: BuildRequestsRepo;
  buildsets: BuildsetsRepo;
  builds: BuildsRepo;
  steps: StepsRepo;
  /** A running build's start and each step's end, one transaction each (build-progress.ts). */
  progress: BuildProgressRepo;
  logs: LogsRepo;
  agents: AgentsRepo;
  masters: MastersRepo;
  changes: ChangesRepo;
  artifacts: ArtifactsRepo;
  /** The console, grid and waterfall views' reads (changes with their builds, builds in a window). */
  console: ConsoleRepo;
  /**
   * A text that changes whenever anything stored may have changed (plain-sql.ts), read at once:
   * what caches of read answers check. Null where no read that cheap can tell (PostgreSQL).
   */
  version: () => string | null;
}

export function createRepositories(db: Database): Repositories {
  const s = db.source;
  const builds = new BuildsRepo(s);
  const steps = new StepsRepo(s);
  return {
    builders: new BuildersRepo(s),
    buildRequests: new BuildRequestsRepo(s),
    buildsets: new BuildsetsRepo(s),
    builds,
    steps,
    progress: new BuildProgressRepo(s, builds, steps),
    logs: new LogsRepo(s),
    agents: new AgentsRepo(s),
    masters: new MastersRepo(s),
    changes: new ChangesRepo(s),
    artifacts: new ArtifactsRepo(s),
    console: new ConsoleRepo(s),
    version: () => plainSql(s).version(),
  };
}
