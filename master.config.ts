// The example master: builds and tests the small project in sample/ on a local agent.
// `npm start` runs it with that agent; tokens come from the environment (defaults for local use).
import { fileURLToPath } from 'node:url';
import { defineConfig, BuildFactory, ShellCommand, SetPropertyFromCommand, forceScheduler, interpolate } from 'caliper';

const sampleDir = fileURLToPath(new URL('./sample/', import.meta.url));

export default defineConfig({
  title: 'Caliper example',
  web: { port: Number(process.env.CALIPER_PORT ?? 8010) },
  db: { url: process.env.CALIPER_DB_URL ?? 'sqlite:.caliper/caliper.sqlite' },
  agents: [{ name: 'local', token: process.env.CALIPER_LOCAL_TOKEN ?? 'local-dev-token', labels: ['linux'], maxBuilds: 2 }],
  builders: [
    {
      name: 'sample',
      description: 'Checks out, tests and builds the sample library',
      agents: ['local'],
      tags: ['example'],
      factory: new BuildFactory()
        .addStep(new ShellCommand({ name: 'checkout', command: ['sh', '-c', 'rm -rf ./* && cp -R "$SRC"/. .'], env: { SRC: sampleDir }, haltOnFailure: true }))
        .addStep(new SetPropertyFromCommand({ name: 'version', command: ['node', '-p', 'require("./package.json").version'], property: 'version' }))
        .addStep(new ShellCommand({ name: 'test', command: ['node', '--test', 'test/'], haltOnFailure: true }))
        .addStep(new ShellCommand({ name: 'build', command: 'node build.js && ls -l dist' }))
        .addStep(new ShellCommand({ name: 'announce', command: ['echo', interpolate('built sample %(prop:version)s, build #%(prop:buildnumber)s')] })),
    },
  ],
  schedulers: [forceScheduler({ name: 'force', builderNames: ['sample'] })],
});
