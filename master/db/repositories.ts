import type { Database } from './data-source.ts';
import { AgentsRepo } from './agents.ts';
import { ArtifactsRepo } from './artifacts.ts';
import { BuildersRepo } from './builders.ts';
import { BuildRequestsRepo } from './buildrequests.ts';
import { BuildsRepo } from './builds.ts';
import { BuildsetsRepo } from './buildsets.ts';
import { ChangesRepo } from './changes.ts';
import { LogsRepo } from './logs.ts';
import { MastersRepo } from './masters.ts';
import { StepsRepo } from './steps.ts';

/** One repository per resource, over one database. */
export interface Repositories {
  builders: BuildersRepo;
  buildRequests: BuildRequestsRepo;
  buildsets: BuildsetsRepo;
  builds: BuildsRepo;
  steps: StepsRepo;
  logs: LogsRepo;
  agents: AgentsRepo;
  masters: MastersRepo;
  changes: ChangesRepo;
  artifacts: ArtifactsRepo;
}

export function createRepositories(db: Database): Repositories {
  const s = db.source;
  return {
    builders: new BuildersRepo(s),
    buildRequests: new BuildRequestsRepo(s),
    buildsets: new BuildsetsRepo(s),
    builds: new BuildsRepo(s),
    steps: new StepsRepo(s),
    logs: new LogsRepo(s),
    agents: new AgentsRepo(s),
    masters: new MastersRepo(s),
    changes: new ChangesRepo(s),
    artifacts: new ArtifactsRepo(s),
  };
}
