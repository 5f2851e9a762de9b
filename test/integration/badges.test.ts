/** Badges from real builds: a builder's last result, a series' last value and trend, cache headers, unknown names. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, MeasureShellCommand, ShellCommand, interpolate } from '../../index.ts';
import { Results } from '../../core/results.ts';
import { BADGE_COLORS, resultColor } from '../../master/api/badges.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { forceAndWait, startAgent, startTestMaster, type AgentProcess } from '../helpers/harness.ts';

interface Badge {
  status: number;
  svg: string;
  headers: Headers;
}

/** The texts a badge shows (badge-maker writes each twice more for the shadow, and in <title>). */
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
/** The fill of the message's (right) rectangle: the badge's color. */
const messageColor = (svg: string) => /<rect x="\d+(?:\.\d+)?" width="[^"]+" height="20" fill="([^"]+)"\/>/.exec(svg)?.[1];

describe.each(testDatabases())('badges on $kind', (db) => {
  let master: RunningMaster;
  let agent: AgentProcess;

  const badge = async (path: string, headers: Record<string, string> = {}): Promise<Badge> => {
    const res = await fetch(`${master.url}/badges/${path}`, { headers });
    return { status: res.status, svg: await res.text(), headers: res.headers };
  };

  beforeAll(async () => {
    master = await startTestMaster(
      {
        agents: [{ name: 'painter', token: 'badge-agent-token-1', maxBuilds: 2 }],
        builders: [
          {
            name: 'app',
            factory: new BuildFactory()
              .addStep(new ShellCommand({ name: 'compile', command: ['sh', '-c', interpolate('test "%(prop:outcome)s" != fail')] }))
              .addStep(
                new ShellCommand({
                  name: 'lint',
                  flunkOnFailure: false,
                  warnOnFailure: true,
                  command: ['sh', '-c', interpolate('test "%(prop:outcome)s" != warn')],
                }),
              ),
          },
          { name: 'idle', factory: new BuildFactory().addStep(new ShellCommand({ name: 'noop', command: ['true'] })) },
          {
            name: 'size',
            factory: new BuildFactory().addStep(
              new MeasureShellCommand({ name: 'bundle', command: ['echo', interpolate('%(prop:size)s')], unit: 'bytes', kind: 'size' }),
            ),
          },
        ],
      },
      await db.create(),
    );
    agent = await startAgent(master, 'painter', 'badge-agent-token-1');
  });

  afterAll(async () => {
    await agent?.kill();
    await master?.stop();
  });

  it("shows the builder's last result in its color, with cache headers", async () => {
    const expected = [
      { outcome: 'pass', message: 'success', color: BADGE_COLORS.brightgreen },
      { outcome: 'warn', message: 'warnings', color: BADGE_COLORS.yellow },
      { outcome: 'fail', message: 'failure', color: BADGE_COLORS.red },
    ];
    for (const { outcome, message, color } of expected) {
      await forceAndWait(master, 'app', { properties: { outcome } });
      const b = await badge('app.svg');
      expect(b.status).toBe(200);
      expect(b.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
      expect(b.headers.get('cache-control')).toBe('no-cache');
      expect(b.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      expect(texts(b.svg)).toEqual(expect.arrayContaining(['app', message]));
      expect(messageColor(b.svg)).toBe(color);
    }
    // An unchanged badge costs a 304 (what camo's revalidation gets).
    const last = await badge('app.svg');
    const etag = last.headers.get('etag');
    expect(etag).toBeTruthy();
    // (fetch adds `Cache-Control: no-cache` to a conditional request unless one is given; a cache revalidating sends none.)
    expect((await badge('app.svg', { 'if-none-match': etag ?? '', 'cache-control': 'max-age=0' })).status).toBe(304);
    // The other results' colors, and the label and style options.
    expect([Results.EXCEPTION, Results.CANCELLED].map(resultColor)).toEqual([BADGE_COLORS.purple, BADGE_COLORS.lightgrey]);
    const square = await badge('app.svg?style=flat-square&label=build');
    expect(texts(square.svg)).toEqual(expect.arrayContaining(['build', 'failure']));
    expect(square.svg).not.toContain('linearGradient'); // flat-square has no gloss
    expect((await badge('app.svg?style=glossy')).status).toBe(400);
  });

  it('a builder without builds is unknown; an unknown builder is a 404 badge', async () => {
    const idle = await badge('idle.svg');
    expect(idle.status).toBe(200);
    expect(texts(idle.svg)).toEqual(expect.arrayContaining(['idle', 'unknown']));
    expect(messageColor(idle.svg)).toBe(BADGE_COLORS.lightgrey);
    const missing = await badge('nope.svg');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('image/svg+xml; charset=utf-8');
    expect(texts(missing.svg)).toEqual(expect.arrayContaining(['nope', 'not found']));
    expect((await badge('nope/bundle.svg')).status).toBe(404);
    expect((await badge('app.png')).status).toBe(404);
  });

  it("shows a series' last value with its unit and its trend against the baseline", async () => {
    expect(texts((await badge('size/bundle.svg')).svg)).toEqual(expect.arrayContaining(['bundle', 'no data']));
    await forceAndWait(master, 'size', { properties: { size: 1000 } });
    // One build: no baseline yet, the value alone.
    let b = await badge('size/bundle.svg');
    expect(texts(b.svg)).toEqual(expect.arrayContaining(['bundle', '1000 bytes']));
    expect(messageColor(b.svg)).toBe(BADGE_COLORS.lightgrey);
    for (const size of [1010, 990, 1000]) await forceAndWait(master, 'size', { properties: { size } });
    b = await badge('size/bundle.svg');
    expect(texts(b.svg)).toEqual(expect.arrayContaining(['1000 bytes = ±0.0 %']));
    expect(messageColor(b.svg)).toBe(BADGE_COLORS.blue);
    await forceAndWait(master, 'size', { properties: { size: 1500 } });
    b = await badge('size/bundle.svg');
    expect(texts(b.svg)).toEqual(expect.arrayContaining(['1500 bytes ▲ +50.0 %']));
    expect(messageColor(b.svg)).toBe(BADGE_COLORS.red); // bigger is worse for a size
    if (db.kind === 'sqlite') console.log(`series badge (size/bundle.svg):\n${b.svg}`);
    await forceAndWait(master, 'size', { properties: { size: 500 } });
    b = await badge('size/bundle.svg');
    expect(texts(b.svg)).toEqual(expect.arrayContaining(['500 bytes ▼ −50.0 %']));
    expect(messageColor(b.svg)).toBe(BADGE_COLORS.brightgreen);
  });
});
