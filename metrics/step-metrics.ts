/**
 * What a running step can do with metrics: capture values it alone knows (tagged with its build),
 * and ask for the baseline of a series over the builder's last successful builds.
 */
import type { Repositories } from '../master/db/index.ts';
import type { CaptureOptions } from './capture-options.ts';
import type { MetricsService } from './metrics-service.ts';
import type { Baseline } from './regression.ts';
import { seriesBaseline } from './baseline.ts';

export interface StepMetrics {
  capture(name: string, value: number, options: CaptureOptions): Promise<void>;
  /** Baseline of `series` for this builder and step over its last `window` successful builds. */
  baseline(series: string, scope: { builderid: number; builder: string; step: string; beforeBuildId: number }): Promise<Baseline | null>;
}

export function createStepMetrics(metrics: MetricsService, repos: Repositories, window: number): StepMetrics {
  return {
    async capture(name, value, options) {
      await metrics.captureData(name, value, options);
    },
    baseline(series, scope) {
      return seriesBaseline(metrics, repos, window, series, scope);
    },
  };
}
