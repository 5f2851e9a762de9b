/**
 * The master config the soak writes next to its database: `agents` agents of one build at a time, and
 * the builder `soak` whose two steps print the payload of bench/soak/payload.ts for the build's `seq`
 * property. A short `protocol.graceMs` so a killed agent's step ends RETRY within seconds.
 */
import { STEPS } from './payload.ts';

export const BUILDER = 'soak';
export const GRACE_MS = 2000;

export interface SoakAgent {
  name: string;
  token: string;
}

export function soakAgents(count: number): SoakAgent[] {
  return Array.from({ length: count }, (_, i) => ({ name: `soak-${i + 1}`, token: `soak-agent-token-${i + 1}-q7Zk` }));
}

/** The config module's text: it imports from 'caliper', so it must be written inside this package's tree. */
export function configText(agents: SoakAgent[]): string {
  const steps = STEPS.map(
    (s) =>
      `  .addStep(new ShellCommand({ name: ${JSON.stringify(s.name)}, command: ${JSON.stringify(s.script)}, env: { SEQ: interpolate('%(prop:seq)s') } }))`,
  ).join('\n');
  return `// Written by bench/soak.ts for one soak run.
import { defineConfig, BuildFactory, ShellCommand, interpolate } from 'caliper';

const factory = new BuildFactory()
${steps};

export default defineConfig({
  title: 'Caliper soak',
  protocol: { graceMs: ${GRACE_MS}, heartbeatMs: 2000 },
  agents: ${JSON.stringify(agents)},
  builders: [{ name: ${JSON.stringify(BUILDER)}, factory }],
});
`;
}
