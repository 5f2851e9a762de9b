/**
 * Opt-in regression gate for measuring steps (the Jenkins influxdb-query gate, built in): compare
 * each measured value with the builder's baseline and turn the step WARNINGS or FAILURE when it is
 * more than `threshold` robust deviations worse (see metrics/regression.ts).
 */
import { z } from 'zod';
import { Results, worstResult, type Result } from '../core/results.ts';
import type { StepContext } from './step-context.ts';

const gate = z.union([z.boolean(), z.strictObject({ threshold: z.number().positive().default(3) })]).optional();

export const regressionShape = {
  warnOnRegression: gate,
  failOnRegression: gate,
  /** Which way is worse: 'higher' (sizes, times: default), 'lower' (coverage, throughput) or 'both'. */
  regressionDirection: z.enum(['higher', 'lower', 'both']).optional(),
};

export interface RegressionOptions {
  warnOnRegression?: boolean | { threshold?: number };
  failOnRegression?: boolean | { threshold?: number };
  regressionDirection?: 'higher' | 'lower' | 'both';
}

const threshold = (g: boolean | { threshold?: number } | undefined): number | null =>
  g === undefined || g === false ? null : g === true ? 3 : (g.threshold ?? 3);

export async function checkRegressions(
  ctx: StepContext,
  values: [string, number][],
  o: RegressionOptions,
): Promise<{ result: Result; notes: string[] }> {
  const warnAt = threshold(o.warnOnRegression);
  const failAt = threshold(o.failOnRegression);
  let result: Result = Results.SUCCESS;
  const notes: string[] = [];
  if (warnAt === null && failAt === null) return { result, notes };
  for (const [series, value] of values) {
    const r = await ctx.regression(series, value);
    if (!r) continue;
    const direction = o.regressionDirection ?? 'higher';
    const worse = direction === 'higher' ? r.score : direction === 'lower' ? -r.score : Math.abs(r.score);
    const what = `${series} ${value} is ${r.score.toFixed(1)}σ from its baseline ${r.baseline.median} (n=${r.baseline.n})`;
    if (failAt !== null && worse > failAt) {
      result = worstResult(result, Results.FAILURE);
      notes.push(`regression: ${what}`);
    } else if (warnAt !== null && worse > warnAt) {
      result = worstResult(result, Results.WARNINGS);
      notes.push(`regression: ${what}`);
    }
  }
  return { result, notes };
}
