/**
 * Buildbot's side of the comparison on disk: the master.cfg (generated from the same step lists as
 * Caliper's config, see workload.ts) and a stand-in for the `buildbot-www` package.
 *
 * Why the stand-in: Debian packages Buildbot without `buildbot-www` (the web UI's JavaScript, which
 * registers the `base` www plugin), and Buildbot's www service refuses to start without a `base`
 * plugin ("could not find buildbot-www; is it installed?"). The REST API (/api/v2) is Buildbot's own
 * code and needs nothing from that package, so the bench registers a `base` plugin that serves an
 * empty static directory, through PYTHONPATH for the master's process only. Nothing of Buildbot is
 * changed or replaced.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BUILDERS, type StepSpec, type BuilderName } from './workload.ts';

export const BUILDBOT_WORKER = 'bench';

export interface BuildbotPorts {
  www: number;
  pb: number;
}

/** The force scheduler that queues builds of `builder` (POST /api/v2/forceschedulers/NAME). */
export const forceSchedulerOf = (builder: BuilderName): string => `force-${builder}`;

/**
 * master.cfg: SQLite in the master's directory, one worker running one build at a time, a builder and
 * a force scheduler per workload builder, the www service (REST API) on loopback. Requests are not
 * collapsed: Buildbot's default merges queued requests of a builder into one build, and the
 * throughput figure queues 20 and must get 20 builds, as Caliper does.
 */
export function masterCfg(steps: Record<BuilderName, StepSpec[]>, ports: BuildbotPorts, workerPassword: string): string {
  // JSON of strings and lists is also a Python literal.
  const stepsLiteral = JSON.stringify(Object.fromEntries(BUILDERS.map((b) => [b, steps[b]])), null, 1);
  return `# Written by bench/compare for one benchmark run: Buildbot's side of the comparison.
from buildbot.plugins import schedulers, steps, util, worker

STEPS = ${stepsLiteral}

c = BuildmasterConfig = {}
c['title'] = 'Buildbot bench:compare'
c['buildbotNetUsageData'] = None
c['db'] = {'db_url': 'sqlite:///state.sqlite'}
c['protocols'] = {'pb': {'port': 'tcp:${ports.pb}:interface=127.0.0.1'}}
c['workers'] = [worker.Worker(${JSON.stringify(BUILDBOT_WORKER)}, ${JSON.stringify(workerPassword)}, max_builds=1)]
c['collapseRequests'] = False
c['builders'] = []
c['schedulers'] = []
for name, specs in STEPS.items():
    factory = util.BuildFactory()
    for spec in specs:
        factory.addStep(steps.ShellCommand(name=spec['name'], command=spec['argv']))
    c['builders'].append(util.BuilderConfig(name=name, workernames=[${JSON.stringify(BUILDBOT_WORKER)}], factory=factory))
    c['schedulers'].append(schedulers.ForceScheduler(name='force-' + name, builderNames=[name]))
c['www'] = {'port': 'tcp:${ports.www}:interface=127.0.0.1', 'plugins': {}}
c['buildbotURL'] = 'http://127.0.0.1:${ports.www}/'
`;
}

const STAND_IN_MODULE = 'caliper_bench_www';

/** Writes the stand-in `base` www plugin under `dir`; the directory to put on the master's PYTHONPATH. */
export function writeWwwStandIn(dir: string): string {
  const pkg = path.join(dir, STAND_IN_MODULE);
  fs.mkdirSync(path.join(pkg, 'static'), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'VERSION'), '0\n');
  fs.writeFileSync(
    path.join(pkg, '__init__.py'),
    `# A stand-in for buildbot-www's "base" plugin: an empty static directory, so that the REST API can run.\n` +
      `from buildbot.www.plugin import Application\n\nep = Application(__name__, "bench:compare stand-in for buildbot-www")\n`,
  );
  // An egg-info directory on sys.path is what pkg_resources (Buildbot's plugin lookup) reads entry points from.
  const info = path.join(dir, `${STAND_IN_MODULE}-0.egg-info`);
  fs.mkdirSync(info, { recursive: true });
  fs.writeFileSync(path.join(info, 'PKG-INFO'), `Metadata-Version: 2.1\nName: ${STAND_IN_MODULE}\nVersion: 0\n`);
  fs.writeFileSync(path.join(info, 'entry_points.txt'), `[buildbot.www]\nbase = ${STAND_IN_MODULE}:ep\n`);
  return dir;
}
