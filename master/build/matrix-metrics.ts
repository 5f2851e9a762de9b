/**
 * A matrix cell's axis values are tags on every point its build captures, so a chart can split a
 * series by an axis (`GET /api/v2/metrics/<series>/points?splitBy=node`). The metrics listener adds
 * them to the points it makes from events (build.started carries the cell); this wrapper adds them
 * to what the steps capture themselves. A tag the step gives by the same name wins: it knows better.
 */
import type { StepMetrics } from '../../metrics/step-metrics.ts';
import type { MatrixCell } from '../config/matrix.ts';

export function withMatrixTags(metrics: StepMetrics, cell: MatrixCell | null): StepMetrics {
  if (cell === null) return metrics;
  return {
    capture: (name, value, options) => metrics.capture(name, value, { ...options, tags: { ...cell, ...options.tags } }),
    baseline: (series, scope) => metrics.baseline(series, scope),
  };
}
