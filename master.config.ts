// The example master: builds, tests, lints and measures the small project in sample/ on a local agent.
// `npm start` runs it with that agent; tokens come from the environment (defaults for local use).
// Set CALIPER_INFLUX_URL (and CALIPER_INFLUX_DB) to send metrics to InfluxDB instead of the SQL store.
// Beside the TypeScript builder "sample", projects/sample.yml builds the same folder as a YAML project.
import { fileURLToPath } from 'node:url';
import {
  defineConfig,
  BuildFactory,
  ShellCommand,
  SetPropertyFromCommand,
  MeasureShellCommand,
  Lint,
  forceScheduler,
  interpolate,
  influxdb,
  trackStepTimes,
  trackProperties,
  yamlProjects,
} from 'caliper';

const sampleDir = fileURLToPath(new URL('./sample/', import.meta.url));
const influxUrl = process.env.CALIPER_INFLUX_URL;
// projects/*.yml, read from this file's folder; they find the sample as %(prop:sample_dir)s.
const projects = yamlProjects('projects/', { properties: { sample_dir: sampleDir } });

export default defineConfig({
  title: 'Caliper example',
  web: { port: Number(process.env.CALIPER_PORT ?? 8010) },
  db: { url: process.env.CALIPER_DB_URL ?? 'sqlite:.caliper/caliper.sqlite' },
  agents: [{ name: 'local', token: process.env.CALIPER_LOCAL_TOKEN ?? 'local-dev-token', labels: ['linux'], maxBuilds: 2 }],
  builders: [
    {
      name: 'sample',
      description: 'Checks out, tests, lints, builds and measures the sample library',
      agents: ['local'],
      tags: ['example'],
      factory: new BuildFactory()
        .addStep(
          new ShellCommand({
            name: 'checkout',
            command: ['sh', '-c', 'rm -rf ./* && cp -R "$SRC"/. .'],
            env: { SRC: sampleDir },
            haltOnFailure: true,
          }),
        )
        .addStep(
          new SetPropertyFromCommand({
            name: 'version',
            command: ['node', '-p', 'require("./package.json").version'],
            property: 'version',
          }),
        )
        .addStep(new ShellCommand({ name: 'test', command: ['node', '--test', 'test/'], haltOnFailure: true }))
        .addStep(new Lint({ name: 'lint', command: ['node', 'lint.js'], format: 'eslint' }))
        .addStep(new ShellCommand({ name: 'build', command: 'node build.js && ls -l dist' }))
        .addStep(
          new MeasureShellCommand({
            name: 'bundle_size',
            command: ['sh', '-c', 'wc -c < dist/stats.js'],
            unit: 'bytes',
            kind: 'size',
            warnOnRegression: { threshold: 3 },
          }),
        )
        .addStep(new MeasureShellCommand({ name: 'source_stats', command: ['node', 'stats.js'] }))
        .addStep(
          new ShellCommand({
            name: 'announce',
            command: ['echo', interpolate('built sample %(prop:version)s, build #%(prop:buildnumber)s')],
          }),
        ),
      metrics: [
        trackStepTimes('test', { series: 'test_time' }),
        trackProperties('lint_warnings', { series: 'warnings_per_build', tags: { team: 'core' } }),
      ],
    },
    ...projects.builders,
  ],
  schedulers: [forceScheduler({ name: 'force', builderNames: ['sample'] }), ...projects.schedulers],
  services: influxUrl ? [influxdb({ url: influxUrl, database: process.env.CALIPER_INFLUX_DB ?? 'caliper' })] : [],
});
