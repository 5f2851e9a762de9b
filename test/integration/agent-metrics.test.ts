/**
 * `caliper agent --metrics-server` (issue 15, item 1) on a real master and a real agent process: the
 * endpoint's text passes `promtool check metrics` (Debian's prometheus package: scripts/services.sh,
 * ensure_promtool), and its figures follow what the agent does: commands running and ended by how,
 * bytes sent, the connection's state and reconnects (through a TCP proxy that cuts it), the `_info`
 * gauge, process metrics. And the flag's bad values and a port in use, refused with a clear message.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand } from '../../index.ts';
import { PROTOCOL_VERSION } from '../../protocol/messages.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import { parseMetricsAddress } from '../../agent/metrics-address.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, forceAndWait, spawnAgent, startTestMaster, waitFor, type AgentProcess } from '../helpers/harness.ts';
import { tcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';

const TOKEN = 'agent-metrics-token';
const sqlite = testDatabases().find((d) => d.kind === 'sqlite');

/** The agent's exit code and what it printed, for a run that must end by itself. */
async function agentExit(extra: string[]): Promise<{ code: number | null; output: string }> {
  const agent = spawnAgent({ port: 1 }, 'bad', TOKEN, extra);
  const code = await new Promise<number | null>((resolve) => agent.child.once('exit', (c) => resolve(c)));
  return { code, output: agent.output() };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (no escaped quotes in our label values). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The one sample of `name` whose labels include `labels`; undefined if there is none. */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples(text).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`);
  return found[0]?.value;
}

function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool: ${r.error.message} (install it: source scripts/services.sh && ensure_promtool)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('the agent serves its own metrics', () => {
  let master: RunningMaster;
  let proxy: TcpProxy;
  let agent: AgentProcess;
  let url: string;
  const scrape = async () => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  beforeAll(async () => {
    if (!sqlite) throw new Error('no SQLite test database');
    master = await startTestMaster(
      {
        agents: [{ name: 'p1', token: TOKEN, maxBuilds: 4 }],
        builders: [
          {
            name: 'ok',
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'say', command: 'head -c 100000 /dev/zero | tr "\\0" x' })),
          },
          { name: 'fails', factory: new BuildFactory().addStep(new ShellCommand({ name: 'no', command: ['false'] })) },
          {
            name: 'slow',
            factory: new BuildFactory().addStep(new ShellCommand({ name: 'sleep', command: ['sleep', '30'], maxTime: 1.5 })),
          },
        ],
      },
      await sqlite.create(),
    );
    proxy = await tcpProxy(master.port);
    agent = spawnAgent(proxy, 'p1', TOKEN, ['--metrics-server', '127.0.0.1:0']);
    await waitFor(`agent p1 (${agent.output()})`, () => internalsOf(master).registry.isConnected('p1'), 30_000);
    url = await waitFor('the metrics URL in the log', () => /metrics at (http:\/\/\S+)/.exec(agent.output())?.[1]);
  }, 60_000);

  afterAll(async () => {
    await agent?.kill();
    await proxy?.close();
    await master?.stop();
  });

  it('passes promtool check metrics, with the info gauge and process metrics', async () => {
    const text = await scrape();
    const checked = promtool(text);
    expect(checked.output).toBe('');
    expect(checked.status).toBe(0);
    expect(value(text, 'caliper_agent_info', { name: 'p1', version: '0.1.0', protocol: String(PROTOCOL_VERSION) })).toBe(1);
    expect(value(text, 'caliper_agent_connected')).toBe(1);
    expect(value(text, 'caliper_agent_connection_state', { state: 'ready' })).toBe(1);
    expect(value(text, 'caliper_agent_connection_state', { state: 'disconnected' })).toBe(0);
    expect(value(text, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(value(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(value(text, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('counts commands running and ended by how they ended, the CPU they used and the bytes sent', async () => {
    const before = await scrape();
    const sentBefore = value(before, 'caliper_agent_sent_bytes_total') ?? NaN;
    expect(await forceAndWait(master, 'ok')).toMatchObject({ build: { result: 'success' } });
    expect(await forceAndWait(master, 'fails')).toMatchObject({ build: { result: 'failure' } });

    const forced = await api(master).post('/builders/slow/force', {});
    expect(forced.status).toBe(202);
    const running = await waitFor('a command running', async () => {
      const text = await scrape();
      return value(text, 'caliper_agent_commands_running') === 1 && text;
    });
    expect(promtool(running).status).toBe(0);
    await waitFor(
      'the slow build to end',
      async () => (await api(master).get(`/buildrequests/${forced.body.buildrequestid}`)).body.buildrequests[0].complete,
    );

    const after = await scrape();
    expect(promtool(after).status).toBe(0);
    expect(value(after, 'caliper_agent_commands_running')).toBe(0);
    expect(value(after, 'caliper_agent_commands_total', { exit: 'zero', killed: 'no' })).toBe(1);
    expect(value(after, 'caliper_agent_commands_total', { exit: 'nonzero', killed: 'no' })).toBe(1);
    // maxTime: SIGTERM to the group, and sleep dies of it.
    expect(value(after, 'caliper_agent_commands_total', { exit: 'signal', killed: 'maxTime' })).toBe(1);
    // 100 000 bytes of output went out as binary frames (protocol 4), the frames' headers on top.
    expect((value(after, 'caliper_agent_sent_bytes_total') ?? 0) - sentBefore).toBeGreaterThan(100_000);
    expect(value(after, 'caliper_agent_sent_frames_total')).toBeGreaterThan(3);
    expect(value(after, 'caliper_agent_command_cpu_seconds_total')).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it('shows the connection dropping and the agent reconnecting', async () => {
    const reconnects = value(await scrape(), 'caliper_agent_reconnects_total') ?? NaN;
    proxy.cut(1500);
    await waitFor('connected 0', async () => value(await scrape(), 'caliper_agent_connected') === 0);
    await waitFor('connected again', async () => value(await scrape(), 'caliper_agent_connected') === 1, 30_000);
    const text = await scrape();
    expect(value(text, 'caliper_agent_reconnects_total')).toBeGreaterThan(reconnects);
    expect(value(text, 'caliper_agent_connection_state', { state: 'ready' })).toBe(1);
  }, 60_000);

  it('answers 404 beside /metrics', async () => {
    const res = await fetch(url.replace(/\/metrics$/, '/'));
    expect(res.status).toBe(404);
    expect(await res.text()).toMatch(/\/metrics/);
  });
});

describe('--metrics-server values', () => {
  it.each([
    ['', { host: '127.0.0.1', port: 9252 }],
    ['9300', { host: '127.0.0.1', port: 9300 }],
    ['0.0.0.0:9252', { host: '0.0.0.0', port: 9252 }],
    ['localhost', { host: 'localhost', port: 9252 }],
    [':9100', { host: '127.0.0.1', port: 9100 }],
    ['[::1]:9252', { host: '::1', port: 9252 }],
    ['[::1]', { host: '::1', port: 9252 }],
  ])('reads "%s"', (text, address) => {
    expect(parseMetricsAddress(text)).toEqual(address);
  });

  it.each([
    ['127.0.0.1:99999', /the port must be a number from 0 to 65535/],
    ['host:port', /the port must be a number/],
    ['::1:9252', /IPv6 address in brackets/],
    ['bad host:1', /"bad host" is not a host name/],
  ])('refuses "%s"', (text, message) => {
    expect(() => parseMetricsAddress(text)).toThrow(message);
  });

  it('an agent given a bad value exits 2 naming it, before connecting', async () => {
    const { code, output } = await agentExit(['--metrics-server', '127.0.0.1:70000']);
    expect(code).toBe(2);
    expect(output).toContain('--metrics-server "127.0.0.1:70000": the port must be a number from 0 to 65535');
  }, 30_000);

  it('an agent whose metrics port is taken exits 1 saying so', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const { code, output } = await agentExit(['--metrics-server', `127.0.0.1:${port}`]);
      expect(code).toBe(1);
      expect(output).toContain(`cannot serve metrics on 127.0.0.1:${port}: listen EADDRINUSE`);
    } finally {
      taken.close();
    }
  }, 30_000);

  it('the usage names the flag and its defaults', async () => {
    const { code, output } = await agentExit(['--help']);
    expect(code).toBe(0);
    expect(output).toMatch(/--metrics-server \[HOST:\]PORT[\s\S]*default 127\.0\.0\.1:9252/);
  }, 30_000);
});
