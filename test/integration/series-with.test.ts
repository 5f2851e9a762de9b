/**
 * `seriesWith` (the builder page's series list, `GET /api/v2/metrics?builder=`) on every store: the
 * series that have a point with the builder and/or step, no more, no fewer; the SQL store answers
 * it by index jumps rather than by reading every point, and must agree with the plain reading.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricsService } from '../../metrics/metrics-service.ts';
import { storesUnderTest } from '../helpers/metric-stores.ts';

const T0_MS = Date.UTC(2026, 0, 1);
/** series → the (builder, step) pairs it has points for. */
const DATA: Record<string, [string, string | null][]> = {
  a_time: [
    ['app', 'compile'],
    ['lib', 'test'],
  ],
  b_size: [['app', 'pack']],
  c_lint: [['lib', 'lint']],
  'd.dotted-name': [['app', null]],
  e_other: [['zed', 'compile']],
};

describe.each(storesUnderTest())('seriesWith: $name', (store) => {
  let service: MetricsService;
  let close: () => Promise<void>;
  const clock = { nowUs: T0_MS * 1000 };

  beforeAll(async () => {
    const opened = await store.open(() => clock.nowUs);
    service = opened.service;
    close = () => opened.db.close();
    for (const [series, pairs] of Object.entries(DATA))
      for (const [builder, step] of pairs) {
        clock.nowUs += 1_000_000;
        await service.captureData(series, 1, { tags: { builder, ...(step ? { step } : {}) } });
      }
    await service.flush();
  }, 60_000);
  afterAll(async () => close?.());

  const expected = (builder?: string, step?: string) =>
    Object.entries(DATA)
      .filter(([, pairs]) => pairs.some(([b, s]) => (builder === undefined || b === builder) && (step === undefined || s === step)))
      .map(([series]) => series)
      .sort();

  it('answers every builder and step filter as a plain reading would', async () => {
    for (const builder of [undefined, 'app', 'lib', 'zed', 'nobody'])
      for (const step of [undefined, 'compile', 'test', 'pack', 'none']) {
        if (builder === undefined && step === undefined) continue;
        // a_time has app's compile and lib's test: builder=app AND step=test must not find it (InfluxDB's
        // SHOW MEASUREMENTS alone would: it matches each tag on any series of the measurement).
        const tags = { ...(builder ? { builder } : {}), ...(step ? { step } : {}) };
        expect((await service.seriesWith(tags)).sort(), JSON.stringify(tags)).toEqual(expected(builder, step));
      }
  });
});
