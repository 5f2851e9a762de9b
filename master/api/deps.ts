import type { CompiledBuilder } from '../config/compile.ts';
import type { Repositories } from '../db/repositories.ts';
import type { AgentRegistry } from '../agents/agent-registry.ts';
import type { MetricsService } from '../../metrics/metrics-service.ts';
import type { LinkMaker } from '../../metrics/links.ts';
import type { SecretMasker } from '../build/secret-masker.ts';
import type { BuildActions } from '../build/build-actions.ts';
import type { ReconfigResult } from '../reconfig.ts';
import type { Bisections } from '../bisect/bisections.ts';
import type { ChangePointsRepo } from '../db/change-points.ts';

export interface ApiDeps {
  repos: Repositories;
  registry: AgentRegistry;
  /** Configured builders with their database ids. */
  builders: { id: number; config: CompiledBuilder }[];
  actions: BuildActions;
  /** Loads the config file again and applies it (master/reconfig.ts); null when the master has no file to load. */
  reconfig?: (() => Promise<ReconfigResult>) | null;
  authTokens: string[] | undefined;
  metrics: MetricsService;
  /** How many successful builds make a regression baseline. */
  regressionWindow: number;
  links: LinkMaker;
  /** The regression watcher's stored change points (`/changepoints`); without it the routes answer 404. */
  changePoints?: ChangePointsRepo | undefined;
  /** Masks secret values in what the API shows (properties). */
  masker: SecretMasker;
  /** Bisections to the culprit commit (master/bisect); absent in tests that make an app without them. */
  bisections?: Bisections;
  /** What the web UI needs to know of the configuration. */
  ui: {
    title: string;
    auth: boolean;
    grafana: { url: string; dashboardUid: string; orgId: number } | null;
    influxdb: { url: string; database: string } | null;
  };
}
