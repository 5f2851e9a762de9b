/** The outbox on an in-memory SQLite database with reporters written here: order per build, backoff, permanent failures, leases. */
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../master/db/data-source.ts';
import { OutboxRepo } from '../../master/db/outbox.ts';
import { Outbox } from '../../master/reporters/outbox.ts';
import { PermanentDeliveryError, type BuildReport, type Delivery, type Reporter } from '../../master/reporters/reporter.ts';
import { silentLogger } from '../../core/logger.ts';
import { waitFor } from '../helpers/harness.ts';

function report(buildid: number, event: BuildReport['event']): BuildReport {
  return {
    event,
    build: {
      buildid,
      number: buildid,
      builderid: 1,
      builder: 'b',
      results: null,
      result: null,
      state_string: '',
      started_at: 0,
      complete_at: null,
      url: 'http://x/',
    },
    step: null,
    steps: [],
    properties: {},
    source: { repository: null, branch: null, revision: null, pullRequest: null },
    changes: [],
    metrics: [],
  };
}

class Recorder implements Reporter {
  readonly name = 'rec';
  readonly secrets = [];
  readonly tries: Delivery[] = [];
  readonly delivered: string[] = [];
  constructor(private readonly answer: (d: Delivery) => 'ok' | 'retry' | 'permanent') {}
  wants(): boolean {
    return true;
  }
  async deliver(d: Delivery): Promise<void> {
    this.tries.push(d);
    const a = this.answer(d);
    if (a === 'retry') throw new Error('try again');
    if (a === 'permanent') throw new PermanentDeliveryError('never');
    this.delivered.push(`${d.report.build.buildid}:${d.report.event}`);
  }
}

describe('outbox', () => {
  let db: Database | null = null;
  const outboxes: Outbox[] = [];
  afterEach(async () => {
    for (const o of outboxes.splice(0)) await o.stop();
    await db?.close();
    db = null;
  });

  async function outbox(reporter: Reporter, masterid = 1) {
    db ??= await openDatabase('sqlite::memory:');
    const o = new Outbox({
      repo: new OutboxRepo(db.source),
      reporters: [reporter],
      masterid,
      log: silentLogger,
      pollMs: 20,
      backoff: { initialMs: 10, maxMs: 40, jitter: 0 },
    });
    outboxes.push(o);
    return o;
  }

  it('delivers each build in order; a failing head holds back only its own build; retries until it goes through', async () => {
    let failuresLeft = 3;
    const rec = new Recorder((d) =>
      d.report.build.buildid === 1 && d.report.event === 'build.started' && failuresLeft-- > 0 ? 'retry' : 'ok',
    );
    const o = await outbox(rec);
    await o.enqueue(1, [{ reporter: 'rec', report: report(1, 'build.started') }]);
    await o.enqueue(2, [{ reporter: 'rec', report: report(2, 'build.started') }]);
    await o.enqueue(1, [{ reporter: 'rec', report: report(1, 'build.finished') }]);
    await o.enqueue(2, [{ reporter: 'rec', report: report(2, 'build.finished') }]);
    await o.start();
    await waitFor('all delivered', () => rec.delivered.length === 4, 10_000);
    const of = (b: number) => rec.delivered.filter((d) => d.startsWith(`${b}:`));
    expect(of(1)).toEqual(['1:build.started', '1:build.finished']);
    expect(of(2)).toEqual(['2:build.started', '2:build.finished']);
    // Build 2 was not held back by build 1's failing head.
    expect(rec.delivered.indexOf('2:build.finished')).toBeLessThan(rec.delivered.indexOf('1:build.started'));
    const first = rec.tries.filter((t) => t.report.build.buildid === 1 && t.report.event === 'build.started');
    expect(first.map((t) => t.attempt)).toEqual([1, 2, 3, 4]);
    expect(new Set(first.map((t) => t.id)).size).toBe(1);
  });

  it('marks a permanent failure failed and goes on with the build', async () => {
    const rec = new Recorder((d) => (d.report.event === 'build.started' ? 'permanent' : 'ok'));
    const o = await outbox(rec);
    await o.start();
    await o.enqueue(7, [
      { reporter: 'rec', report: report(7, 'build.started') },
      { reporter: 'rec', report: report(7, 'build.finished') },
    ]);
    await waitFor('finished delivered', () => rec.delivered.length === 1, 10_000);
    const rows = await new OutboxRepo(db!.source).ofReporter('rec');
    expect(rows.map((r) => [r.seq, r.state, r.attempts])).toEqual([
      [1, 'failed', 1],
      [2, 'delivered', 1],
    ]);
    expect(rec.tries).toHaveLength(2);
  });

  it('a row leased by another master is not taken until the lease ends', async () => {
    db = await openDatabase('sqlite::memory:');
    const repo = new OutboxRepo(db.source);
    await repo.enqueue([{ reporter: 'rec', buildid: 1, payload: JSON.stringify(report(1, 'build.started')), delivery_id: 'd-1' }], 0);
    const [row] = await repo.dueHeads('rec', 1, 10);
    expect(await repo.claim(row!.id, 99, 1, 1000)).toBe(true);
    expect(await repo.claim(row!.id, 1, 2, 1002)).toBe(false);
    expect(await repo.dueHeads('rec', 500, 10)).toEqual([]);
    expect(await repo.claim(row!.id, 1, 1001, 2001)).toBe(true);
  });
});
