/**
 * `caliper agent --metrics-server`: the agent's own Prometheus endpoint, `GET /metrics` (prom-client):
 * commands running and ended (by how they ended), the connection's state and reconnects, what was sent
 * to the master, an `_info` gauge with the agent's version, protocol and name, and prom-client's
 * process metrics. Every figure is read from the agent (AgentStats) when scraped.
 *
 * Loaded only when the flag is given, and prom-client only from here, on demand: an agent without
 * the flag stays as small as before (test/unit/agent-imports.test.ts). No authentication: bind it to
 * loopback or a private network (docs/operations.md, "Agent metrics").
 */
import http from 'node:http';
import type { Registry } from 'prom-client';
import { PROTOCOL_VERSION } from '../protocol/messages.ts';
import type { AgentState } from './agent.ts';
import type { AgentStats, ExitClass, KilledLabel } from './agent-stats.ts';
import type { ListenAddress } from './metrics-address.ts';

/** What the endpoint reads of the agent: the Agent itself in production. */
export interface ObservedAgent {
  readonly name: string;
  readonly connectionState: AgentState;
  readonly stats: AgentStats;
}

export interface MetricsServer {
  /** Where it listens, with the port the system chose for port 0. */
  readonly url: string;
  close(): Promise<void>;
}

const STATES: readonly AgentState[] = ['connecting', 'handshaking', 'ready', 'disconnected', 'stopped'];

/** A registry of the agent's metrics (its own, never prom-client's global one). */
export async function agentRegistry(agent: ObservedAgent, version: string): Promise<Registry> {
  // A dynamic import, also in the bundled agent (scripts/build.mjs keeps prom-client outside it).
  const { Counter, Gauge, Registry, collectDefaultMetrics } = await import('prom-client');
  const registry = new Registry();
  const registers = [registry];
  const { stats } = agent;
  new Gauge({
    name: 'caliper_agent_info',
    help: 'This agent: its version, the protocol it speaks and its name (always 1)',
    labelNames: ['version', 'protocol', 'name'],
    registers,
  }).set({ version, protocol: String(PROTOCOL_VERSION), name: agent.name }, 1);
  new Gauge({
    name: 'caliper_agent_connected',
    help: 'Whether the master has welcomed the agent on its current connection (1) or not (0)',
    registers,
    collect() {
      this.set(agent.connectionState === 'ready' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'caliper_agent_connection_state',
    help: 'The connection to the master: 1 for the state it is in, 0 for the others',
    labelNames: ['state'],
    registers,
    collect() {
      for (const state of STATES) this.set({ state }, agent.connectionState === state ? 1 : 0);
    },
  });
  new Counter({
    name: 'caliper_agent_reconnects_total',
    help: 'Connection attempts after the first (after a drop or a failed attempt)',
    registers,
    collect() {
      this.reset();
      this.inc(stats.reconnects);
    },
  });
  new Gauge({
    name: 'caliper_agent_commands_running',
    help: 'Commands running on the agent now',
    registers,
    collect() {
      this.set(stats.commandsRunning);
    },
  });
  new Counter({
    name: 'caliper_agent_commands_total',
    help: 'Commands ended: exit is zero, nonzero, signal (ended by a signal) or not_started; killed is why the agent killed it (timeout, maxTime, cancel) or no',
    labelNames: ['exit', 'killed'],
    registers,
    collect() {
      this.reset();
      // The usual outcomes are there from the start, at 0, so that rate() sees their first increase.
      for (const exit of ['zero', 'nonzero'] satisfies ExitClass[]) this.inc({ exit, killed: 'no' satisfies KilledLabel }, 0);
      for (const [key, n] of stats.commandsEnded) {
        const [exit = '', killed = ''] = key.split('/');
        this.inc({ exit, killed }, n);
      }
    },
  });
  new Counter({
    name: 'caliper_agent_command_cpu_seconds_total',
    help: "CPU time (user + system) of the commands' process trees, where measured (Linux)",
    registers,
    collect() {
      this.reset();
      this.inc(stats.commandCpuSeconds);
    },
  });
  new Counter({
    name: 'caliper_agent_sent_bytes_total',
    help: 'Bytes of the frames sent to the master (JSON text; output is base64 in it)',
    registers,
    collect() {
      this.reset();
      this.inc(stats.bytesSent);
    },
  });
  new Counter({
    name: 'caliper_agent_sent_frames_total',
    help: 'Frames sent to the master',
    registers,
    collect() {
      this.reset();
      this.inc(stats.framesSent);
    },
  });
  collectDefaultMetrics({ register: registry });
  // prom-client also exports these three sums as gauges named `_total`, which promtool's lint
  // refuses (a `_total` is a counter); the same counts by type stay (`nodejs_active_handles`, …).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
    registry.removeSingleMetric(name);
  return registry;
}

/** Serves `GET /metrics` at `address`; rejects with a message naming the address when it cannot listen. */
export async function startMetricsServer(agent: ObservedAgent, version: string, address: ListenAddress): Promise<MetricsServer> {
  const registry = await agentRegistry(agent, version);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${String(e)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`cannot serve metrics on ${address.host}:${address.port}: ${e.message}`)));
    server.listen(address.port, address.host, () => resolve());
  });
  // The endpoint must not keep a stopping agent alive.
  server.unref();
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : address.port;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
