/**
 * `/agents` and `/builders` page like every other collection (limit, offset, order, filters, field,
 * meta.total counted before paging), and the builds collection's total stays right whether or not
 * the page itself shows it. Real master, agents connected over real WebSockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BuildFactory } from '../../steps/build-factory.ts';
import { ShellCommand } from '../../steps/shell-command.ts';
import type { RunningMaster } from '../../master/master.ts';
import { internalsOf } from '../../master/testing.ts';
import { api, startTestMaster, waitFor, type Api } from '../helpers/harness.ts';
import { testDatabases } from '../helpers/databases.ts';
import { helloFrame } from '../helpers/frames.ts';

const AGENTS = 7;
const token = (i: number) => `paging-token-${i}-0123456789`;
const BUILDS = 23;

describe.each(testDatabases())('paging on $kind', (db) => {
  let master: RunningMaster;
  let http: Api;
  const sockets: WebSocket[] = [];

  /** A raw agent: says hello as a1…a6 do, and stays connected. */
  async function connect(i: number): Promise<void> {
    const ws = new WebSocket(`ws://127.0.0.1:${master.port}/agents`);
    sockets.push(ws);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const welcomed = new Promise((resolve) => ws.once('message', resolve));
    ws.send(helloFrame(token(i), { name: `a${i}` }));
    await welcomed;
  }

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: Array.from({ length: AGENTS }, (_, i) => ({ name: `a${i}`, token: token(i), maxBuilds: i + 1 })),
        builders: ['delta', 'alpha', 'echo', 'charlie', 'bravo'].map((name) => ({
          name,
          description: `the ${name} builder`,
          agents: ['a0'],
          factory: new BuildFactory([new ShellCommand({ name: 't', command: ['true'] })]),
        })),
      },
      await db.create(),
    );
    http = api(master);
    await connect(3);
    await connect(1);
    await waitFor('two agents connected', async () => (await http.get('/agents?connected=true')).body.meta.total === 2);
    // Builds written straight into the database: what is paged here is the reading.
    const source = internalsOf(master).db.source;
    const p = db.kind === 'postgres' ? (n: number) => `$${n}` : () => '?';
    await source.query(
      `INSERT INTO buildrequests (builderid, reason, properties, submitted_at, complete) VALUES (${p(1)}, 'paging', '{}', 0, ${p(2)})`,
      [1, db.kind === 'postgres' ? true : 1],
    );
    for (let n = 1; n <= BUILDS; n++) {
      await source.query(
        `INSERT INTO builds (builderid, buildrequestid, number, masterid, agent, started_at, complete_at, results, state_string, properties)
         VALUES (${p(1)}, 1, ${p(2)}, ${p(3)}, 'a0', ${p(4)}, ${p(5)}, 0, ${p(6)}, '{}')`,
        [1 + (n % 2), n, internalsOf(master).masterid, n * 1000, n * 1000 + 500, n % 5 === 0 ? 'build done (five)' : 'build done'],
      );
    }
  });
  afterAll(async () => {
    for (const ws of sockets) ws.close();
    await master?.stop();
  });

  it('/agents: limit and offset, meta.total of all, in the configuration order', async () => {
    const { status, body } = await http.get('/agents?limit=2&offset=1');
    expect(status).toBe(200);
    expect(body.agents.map((a: { name: string }) => a.name)).toEqual(['a1', 'a2']);
    expect(body.meta.total).toBe(AGENTS);
    expect((await http.get('/agents?offset=6')).body.agents.map((a: { name: string }) => a.name)).toEqual(['a6']);
    expect((await http.get('/agents')).body.agents).toHaveLength(AGENTS);
  });

  it('/agents: filters, order and field, the total counting what the filters keep', async () => {
    const connected = (await http.get('/agents?connected=true&field=name,connected')).body;
    expect(connected).toEqual({
      agents: [
        { name: 'a1', connected: true },
        { name: 'a3', connected: true },
      ],
      meta: { total: 2 },
    });
    const byMax = (await http.get('/agents?order=-maxBuilds&limit=3&field=name')).body;
    expect(byMax).toEqual({ agents: [{ name: 'a6' }, { name: 'a5' }, { name: 'a4' }], meta: { total: AGENTS } });
    const never = (await http.get('/agents?connected=false&maxBuilds__ge=5&field=name')).body;
    expect(never).toEqual({ agents: [{ name: 'a4' }, { name: 'a5' }, { name: 'a6' }], meta: { total: 3 } });
    // Never connected: no id and no time, so no comparison holds; ordering puts them first.
    const seen = (await http.get('/agents?last_connected_at__gt=0&field=name')).body;
    expect(seen.agents.map((a: { name: string }) => a.name).sort()).toEqual(['a1', 'a3']);
    const byId = (await http.get('/agents?order=-agentid&limit=2&field=name,agentid')).body;
    expect(byId.agents.every((a: { agentid: number | null }) => typeof a.agentid === 'number')).toBe(true);
    expect((await http.get('/agents?name__contains=A6&field=name')).body).toEqual({ agents: [{ name: 'a6' }], meta: { total: 1 } });
  });

  it('/agents: an unknown field, operator or bound is a 400 that says which', async () => {
    const bad = await http.get('/agents?token=x');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('unknown field "token"');
    expect(bad.body.error.details.allowed).toContain('connected');
    expect((await http.get('/agents?order=token')).body.error.message).toContain('cannot order by unknown field "token"');
    expect((await http.get('/agents?limit=-1')).body.error.message).toContain('limit must be a non-negative integer');
    expect((await http.get('/agents?connected=maybe')).body.error.message).toContain('"maybe" is not a boolean');
  });

  it('/builders: paged, ordered and filtered like the others', async () => {
    const page = (await http.get('/builders?limit=2&offset=1&field=name')).body;
    expect(page).toEqual({ builders: [{ name: 'alpha' }, { name: 'echo' }], meta: { total: 5 } });
    const ordered = (await http.get('/builders?order=name&field=name')).body;
    expect(ordered.builders.map((b: { name: string }) => b.name)).toEqual(['alpha', 'bravo', 'charlie', 'delta', 'echo']);
    const filtered = (await http.get('/builders?description__contains=ARL&field=name,description')).body;
    expect(filtered).toEqual({ builders: [{ name: 'charlie', description: 'the charlie builder' }], meta: { total: 1 } });
    const full = (await http.get('/builders?name=delta')).body.builders[0];
    expect(Object.keys(full).sort()).toEqual([
      'average_duration',
      'builderid',
      'description',
      'last_build',
      'links',
      'name',
      'running',
      'tags',
    ]);
    expect((await http.get('/builders?tags=x')).status).toBe(400);
  });

  it('/builds: meta.total is right on a full page, a short last page, a filtered one and an empty one', async () => {
    const total = async (q: string) => {
      const { status, body } = await http.get(`/builds?${q}`);
      expect(status).toBe(200);
      return { n: body.builds.length as number, total: body.meta.total as number };
    };
    expect(await total('limit=5')).toEqual({ n: 5, total: BUILDS });
    expect(await total(`limit=5&offset=${BUILDS - 2}`)).toEqual({ n: 2, total: BUILDS });
    expect(await total(`offset=${BUILDS + 5}&limit=5`)).toEqual({ n: 0, total: BUILDS });
    expect(await total('limit=100')).toEqual({ n: BUILDS, total: BUILDS });
    expect(await total('limit=0')).toEqual({ n: 0, total: BUILDS });
    expect(await total('state_string__contains=FIVE&limit=2')).toEqual({ n: 2, total: 4 });
    expect(await total('builderid=1&number__gt=10')).toEqual({ n: 6, total: 6 });
    expect(await total('builderid=1&builderid=2&limit=1&offset=3')).toEqual({ n: 1, total: BUILDS });
    const newest = (await http.get('/builds?order=-number&limit=2&field=number')).body.builds;
    expect(newest).toEqual([{ number: BUILDS }, { number: BUILDS - 1 }]);
  });
});
