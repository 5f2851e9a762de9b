import type { CompiledBuilder } from '../config/compile.ts';
import type { Repositories } from '../db/repositories.ts';
import type { AgentRegistry } from '../agents/agent-registry.ts';
import type { MetricsService } from '../../metrics/metrics-service.ts';
import type { LinkMaker } from '../../metrics/links.ts';
import type { SecretMasker } from '../build/secret-masker.ts';
import type { BuildActions } from '../build/build-actions.ts';
import type { ReconfigResult } from '../reconfig.ts';

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
  /** Masks secret values in what the API shows (properties). */
  masker: SecretMasker;
  /** What the web UI needs to know of the configuration. */
  ui: {
    title: string;
    auth: boolean;
    grafana: { url: string; dashboardUid: string; orgId: number } | null;
    influxdb: { url: string; database: string } | null;
  };
}
