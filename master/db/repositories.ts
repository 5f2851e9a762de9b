import type { Database } from './data-source.ts';
import { AgentsRepo } from './agents.ts';
import { BuildersRepo } from './builders.ts';
import { BuildRequestsRepo } from './buildrequests.ts';
import { BuildsRepo } from './builds.ts';
import { ChangesRepo } from './changes.ts';
import { LogsRepo } from './logs.ts';
import { MastersRepo } from './masters.ts';
import { StepsRepo } from './steps.ts';

/** One repository per resource, over one database. */
export interface Repositories {
  builders: BuildersRepo;
  buildRequests: BuildRequestsRepo;
  builds: BuildsRepo;
  steps: StepsRepo;
  logs: LogsRepo;
  agents: AgentsRepo;
  masters: MastersRepo;
  changes: ChangesRepo;
}

export function createRepositories(db: Database): Repositories {
  const s = db.source;
  return {
    builders: new BuildersRepo(s),
    buildRequests: new BuildRequestsRepo(s),
    builds: new BuildsRepo(s),
    steps: new StepsRepo(s),
    logs: new LogsRepo(s),
    agents: new AgentsRepo(s),
    masters: new MastersRepo(s),
    changes: new ChangesRepo(s),
  };
}
