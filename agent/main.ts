/**
 * The `caliper agent` command. bin/caliper.js runs this module for that command directly, without
 * the master's CLI: an agent process loads the agent, the protocol and the core vocabulary, nothing
 * of the master (TypeORM, express, the metrics stores) and no TypeScript loader. A small process
 * starts faster and forks each command faster (docs/performance.md, "The agent").
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_VERSION, Agent } from './agent.ts';
import { OutputReclaimer } from './output-reclaim.ts';
import { DEFAULT_METRICS_PORT, parseMetricsAddress, type ListenAddress } from './metrics-address.ts';
import { errorMessage } from '../core/error-message.ts';

export const AGENT_USAGE = `Usage: caliper agent --master ws://HOST:PORT/agents --name NAME --token TOKEN [--workdir DIR] [--labels a,b]

  --master URL     the master's agent endpoint
  --name NAME      this agent's name, as in the master's config
  --token TOKEN    its token (or set CALIPER_AGENT_TOKEN, which keeps it out of the process list)
  --workdir DIR    base directory for builds (default ./agent-work/NAME)
  --labels a,b     extra labels this agent offers
  --capacity N     most commands run at once (default: 1000; the master also caps it with maxBuilds)
  --metrics-server [HOST:]PORT
                   serve Prometheus metrics at http://HOST:PORT/metrics (default 127.0.0.1:${DEFAULT_METRICS_PORT};
                   no authentication: keep it on loopback or a private network)
  --spawn helper|node
                   who forks the commands: a small perl helper (default; the agent itself without perl)
                   or the agent itself`;

/**
 * `--metrics-server` may come without a value (both defaults), which parseArgs cannot express: a
 * bare flag (last, or followed by another option) gets an empty value.
 */
function withMetricsValue(args: string[]): string[] {
  const i = args.indexOf('--metrics-server');
  if (i < 0) return args;
  const next = args[i + 1];
  return next === undefined || next.startsWith('--') ? [...args.slice(0, i + 1), '', ...args.slice(i + 1)] : args;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

/** Runs an agent until SIGINT or SIGTERM; `args` are the command's arguments after `agent`. */
export async function agentCommand(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(AGENT_USAGE);
    return;
  }
  let v;
  try {
    v = parseArgs({
      args: withMetricsValue(args),
      options: {
        master: { type: 'string' },
        name: { type: 'string' },
        token: { type: 'string' },
        workdir: { type: 'string' },
        labels: { type: 'string' },
        capacity: { type: 'string' },
        'metrics-server': { type: 'string' },
        spawn: { type: 'string' },
      },
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (e) {
    return fail(`${errorMessage(e)}\n\n${AGENT_USAGE}`);
  }
  const token = v.token ?? process.env.CALIPER_AGENT_TOKEN;
  if (!v.master || !v.name || !token) fail(`--master, --name and --token (or CALIPER_AGENT_TOKEN) are required\n\n${AGENT_USAGE}`);
  if (v.capacity !== undefined && !/^\d+$/.test(v.capacity)) fail(`--capacity must be a number, got "${v.capacity}"`);
  if (v.spawn !== undefined && v.spawn !== 'helper' && v.spawn !== 'node') fail(`--spawn must be helper or node, got "${v.spawn}"`);
  let metricsAddress: ListenAddress | null = null;
  try {
    metricsAddress = v['metrics-server'] === undefined ? null : parseMetricsAddress(v['metrics-server']);
  } catch (e) {
    fail(errorMessage(e));
  }
  const agent = new Agent({
    master: v.master,
    name: v.name,
    token,
    basedir: path.resolve(v.workdir ?? path.join('agent-work', v.name)),
    labels: v.labels ? v.labels.split(',').filter(Boolean) : [],
    ...(v.capacity !== undefined ? { capacity: Number(v.capacity) } : {}),
    ...(v.spawn !== undefined ? { spawn: v.spawn } : {}),
    // Only this program's process: it sets a V8 flag for the whole process.
    reclaimer: OutputReclaimer.create(),
  });
  // Before the first connection, so a master that cannot be reached shows in the metrics too.
  let metrics: { close(): Promise<void> } | null = null;
  if (metricsAddress) {
    try {
      const { startMetricsServer } = await import('./metrics-server.ts');
      const server = await startMetricsServer(agent, AGENT_VERSION, metricsAddress);
      console.log(`${new Date().toISOString()} [agent ${agent.name}] metrics at ${server.url}`);
      metrics = server;
    } catch (e) {
      console.error(errorMessage(e));
      process.exit(1);
    }
  }
  const stop = () => {
    void agent
      .stop()
      .then(() => metrics?.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await agent.start();
  } catch (e) {
    console.error(errorMessage(e));
    process.exit(1);
  }
}
