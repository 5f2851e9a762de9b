/**
 * `caliper_open_regressions` is read from its source when /metrics is scraped, not after every
 * build: a master finishing a build a second ran the count (which reads every change point) once per
 * build. Each scrape reads it once; a failed read (null) keeps the last value.
 */
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../master/events/event-bus.ts';
import { startPrometheusExporter } from '../../metrics/prometheus.ts';

const gauge = (text: string) => /^caliper_open_regressions (\S+)$/m.exec(text)?.[1];

describe('caliper_open_regressions', () => {
  it('is counted once per scrape, and keeps its last value when the count fails', async () => {
    const bus = new EventBus();
    const answers: (number | null)[] = [3, null, 5];
    let reads = 0;
    const exporter = startPrometheusExporter(bus, new Map([[1, { name: 'app', metrics: [] }]]), {
      openRegressions: async () => {
        reads++;
        const next = answers.shift();
        return next === undefined ? 0 : next;
      },
    });
    for (let i = 0; i < 50; i++) bus.publish('build.finished', { buildid: i + 1, builderid: 1, number: i + 1, results: 0, durationMs: 10 });
    expect(reads).toBe(0);
    expect(gauge(await exporter.registry.metrics())).toBe('3');
    expect(gauge(await exporter.registry.metrics())).toBe('3');
    expect(gauge(await exporter.registry.metrics())).toBe('5');
    expect(reads).toBe(3);
    exporter.stop();
  });

  it('is 0 without a source', async () => {
    const exporter = startPrometheusExporter(new EventBus(), new Map());
    expect(gauge(await exporter.registry.metrics())).toBe('0');
    exporter.stop();
  });
});
