// ScummVM's Director test master, ported from Buildbot to Caliper by hand. The original, by the
// ScummVM team: https://github.com/scummvm/scummvm-sites/tree/260e509f6f83d1f5b1e7b1d5746cae40267fc506
// (branch director-buildbot; master.py and director/*.py). docs/migrating-from-buildbot.md walks
// through it section by section. Settings come from the environment, as in the original (settings.ts).
import {
  anyBranchScheduler,
  defineConfig,
  forceScheduler,
  httpReporter,
  masterLock,
  trackStepTimes,
  triggerableScheduler,
  type CaliperConfig,
  type ChangeInput,
} from 'caliper';
import { DIRECTOR_TESTS, buildFactory } from './build-factory.ts';
import { lingoFactory } from './lingo-tests.ts';
import { settings } from './settings.ts';
import { readTargets, targetBuilder, targetBuilderName } from './targets.ts';

type Config = CaliperConfig;

// ####### AGENTS (c['workers']): each worker name becomes an agent; `caliper start --with-agent`
// runs the first one beside the master, as the original's LocalWorker did.
const agents: Config['agents'] = settings.workerNames.map((name) => ({
  name,
  token: settings.workerPassword,
  maxBuilds: settings.maxBuilds,
}));

// ####### BUILDERS
const LINGO_BUILDER = 'lingotests D4'; // "lingotests (D4)": no parentheses in Caliper's names
const targets = settings.fullBuild ? readTargets(settings.targetsFile) : [];
const testBuilders = [LINGO_BUILDER, ...targets.map(targetBuilderName)];

const builders: Config['builders'] = [
  {
    name: 'build',
    agents: settings.workerNames.slice(0, 1),
    factory: buildFactory(),
    // One compile at a time on the whole master (util.MasterLock("Build"), exclusive).
    locks: [{ lock: 'build', access: 'exclusive' }],
    // What Caliper adds: the compile time of every build, with its baseline and trend.
    metrics: [trackStepTimes('compile', { series: 'compile_time' })],
  },
  { name: LINGO_BUILDER, agents: settings.workerNames, factory: lingoFactory() },
  ...targets.map((t) => targetBuilder(t, settings.workerNames)),
];

// ####### SCHEDULERS
/** Only changes to the Director engine or the Mac GUI it draws with are worth a build. */
export function fileIsDirectorRelated(change: Pick<ChangeInput, 'files' | 'category'>): boolean {
  // GitHub's pull_request event lists no files (the original's hook asked the API for them): build each one.
  if (change.category === 'pull') return true;
  return change.files.some((file) => ['engines/director', 'graphics/macgui'].some((dir) => file.includes(dir)));
}

const schedulers: Config['schedulers'] = [
  // The original's SingleBranchScheduler had no branch in its filter, so it took every branch: in
  // Caliper that is an anyBranchScheduler (which waits treeStableTimer per branch).
  anyBranchScheduler({
    name: 'all',
    builderNames: ['build'],
    repository: settings.repository,
    treeStableTimer: 5,
    fileIsImportant: fileIsDirectorRelated,
  }),
  triggerableScheduler({ name: DIRECTOR_TESTS, builderNames: testBuilders }),
  forceScheduler({ name: 'force', builderNames: ['build', ...testBuilders] }),
];

// ####### WEB: the GitHub hook, who may force and stop (GitHubAuth + Authz in the original).
const developers = settings.developers.map((entry) => {
  const [username = '', ...hash] = entry.split(':');
  return { username, passwordHash: hash.join(':'), roles: ['developers'] };
});

export default defineConfig({
  title: 'Director builds',
  db: { url: settings.databaseUrl },
  web: {
    port: settings.port,
    publicUrl: settings.publicUrl,
    // The changes carry the repository's html_url (https://github.com/scummvm/scummvm), the string the
    // scheduler's filter and the Git step use.
    ...(settings.webUi ? { changeHooks: { github: { secret: settings.githubWebhookSecret, repositoryUrl: 'html_url' as const } } } : {}),
    ...(developers.length > 0
      ? {
          auth: {
            users: developers,
            sessionSecret: settings.sessionSecret,
            // Only developers may force, stop, rebuild or cancel (AnyControlEndpointMatcher(role="developers")).
            allowRules: [{ action: 'any' as const, roles: ['developers'] }],
          },
        }
      : {}),
  },
  agents,
  locks: [masterLock({ name: 'build' })],
  builders,
  schedulers,
  // The original posted to a Discord webhook when a build's results changed; Caliper posts signed JSON
  // (docs/reporters.md) to a relay of yours.
  services: settings.webReporter
    ? [httpReporter({ url: settings.reportUrl, ...(settings.reportSecret ? { secret: settings.reportSecret } : {}) })]
    : [],
});
