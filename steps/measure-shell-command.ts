import { median } from 'simple-statistics';
import { z } from 'zod';
import { Results, worstResult } from '../core/results.ts';
import { METRIC_KINDS, seriesName, type MetricKind } from '../metrics/capture-options.ts';
import { tagMap } from '../metrics/config.ts';
import type { StepContext } from './step-context.ts';
import { ShellCommand, shellCommandShape, type ShellCommandOptions } from './shell-command.ts';
import type { StepOutcome } from './step.ts';
import { checkRegressions, regressionShape, type RegressionOptions } from './regression-gate.ts';

export interface MeasureShellCommandOptions extends ShellCommandOptions, RegressionOptions {
  /** Series (and property) name for a command that prints one number; default the step's name. */
  metric?: string;
  /** For `key=value` output: the keys the command prints (so trackProperties can name them); others fail the step. */
  keys?: string[];
  unit?: string;
  kind?: MetricKind;
  tags?: Record<string, string>;
  /**
   * Runs the command this many times (1–50) in a row; each value is the median of its runs, and every
   * run's number is kept with the point as its samples (for the change-point tests).
   */
  repeat?: number;
}

export const MAX_REPEAT = 50;

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** Parses `42` or `key=value` lines into named numbers; an error names the offending line. */
export function parseMeasurements(stdout: string, single: string): { ok: true; values: [string, number][] } | { ok: false; error: string } {
  // Numbered as printed (blank lines count), then the blank ones dropped.
  const lines = stdout
    .split(/\r?\n/)
    .map((text, i) => ({ text, n: i + 1 }))
    .filter((l) => l.text.trim() !== '');
  const [only] = lines;
  if (only === undefined) return { ok: false, error: 'the command printed nothing: expected a number or key=value lines' };
  const bad = (l: { text: string; n: number }) => ({
    ok: false as const,
    error: `line ${l.n} is not a number or key=value with a numeric value: ${JSON.stringify(l.text.slice(0, 200))}`,
  });
  if (lines.length === 1 && NUMBER.test(only.text.trim())) {
    const value = Number(only.text.trim());
    return Number.isFinite(value) ? { ok: true, values: [[single, value]] } : bad(only);
  }
  const values: [string, number][] = [];
  for (const l of lines) {
    const [, key, raw] = /^\s*([A-Za-z_][A-Za-z0-9_.:-]*)\s*=\s*(\S+)\s*$/.exec(l.text) ?? [];
    if (key === undefined || raw === undefined || !NUMBER.test(raw) || !Number.isFinite(Number(raw))) return bad(l);
    values.push([key, Number(raw)]);
  }
  return { ok: true, values };
}

/**
 * Runs a command that prints a number (or `key=value` lines); each value becomes a build property and
 * a metric point. Output that is not numbers fails the step with the offending line; nothing is stored.
 */
export class MeasureShellCommand extends ShellCommand<MeasureShellCommandOptions> {
  override readonly schema: z.ZodType = z
    .strictObject({
      ...shellCommandShape,
      ...regressionShape,
      metric: seriesName.optional(),
      keys: z.array(seriesName).min(1).optional(),
      unit: z.string().max(30).optional(),
      kind: z.enum(METRIC_KINDS).optional(),
      tags: tagMap.optional(),
      repeat: z
        .number({ error: () => `must be a whole number of runs from 1 to ${MAX_REPEAT}` })
        .refine((n) => Number.isInteger(n) && n >= 1 && n <= MAX_REPEAT, {
          error: (issue) => `must be a whole number of runs from 1 to ${MAX_REPEAT}, got ${String(issue.input)}`,
        })
        .optional(),
    })
    .refine((o) => o.metric !== undefined || o.keys !== undefined || seriesName.safeParse(o.name).success, {
      message: 'the step name is the series name: it must start with a letter or "_" (or set metric)',
      path: ['name'],
    });

  override measures(): boolean {
    return true;
  }

  override providedProperties(): string[] {
    return this.options.keys ?? [this.options.metric ?? this.name];
  }

  override async run(ctx: StepContext): Promise<StepOutcome> {
    const repeat = this.options.repeat ?? 1;
    const runs: [string, number][][] = [];
    for (let run = 1; run <= repeat; run++) {
      // Every run's output goes into the one stdio log, under a header saying which run it is.
      const request = await this.commandRequest(ctx, { collectStdout: true });
      if (repeat > 1) request.header = `${run === 1 ? (request.header ?? '') : ''}measurement run ${run} of ${repeat}\n`;
      const r = await ctx.runCommand(request);
      const outcome = this.evaluate(r);
      if (outcome.result !== Results.SUCCESS)
        return repeat > 1 ? { ...outcome, stateString: `run ${run} of ${repeat}: ${outcome.stateString}` } : outcome;
      const parsed = parseMeasurements(r.stdout, this.options.metric ?? this.name);
      const error = parsed.ok ? this.unexpectedKeys(parsed.values, runs[0]) : parsed.error;
      if (error !== null) {
        const which = repeat > 1 ? `run ${run} of ${repeat}: ` : '';
        const log = await ctx.addLog('measure-error');
        await log.append(`${which}${error}\n`);
        return { result: Results.FAILURE, stateString: `${parsed.ok ? '' : 'unparsable output: '}${which}${error}` };
      }
      if (parsed.ok) runs.push(parsed.values);
    }
    const { unit, kind, tags } = this.options;
    const values: [string, number][] = (runs[0] ?? []).map(([name], i) => [name, median(runs.map((r) => r[i]?.[1] ?? NaN))]);
    for (const [i, [name, value]] of values.entries()) {
      ctx.properties.set(name, value, this.name);
      const samples = repeat > 1 ? { samples: runs.map((r) => r[i]?.[1] ?? NaN) } : {};
      await ctx.captureData(name, value, { ...(unit ? { unit } : {}), kind: kind ?? 'gauge', ...(tags ? { tags } : {}), ...samples });
    }
    const gate = await checkRegressions(ctx, values, this.options);
    const of = repeat > 1 ? ` (median of ${repeat})` : '';
    const summary = values.map(([k, v]) => `${k}=${v}${unit ? ` ${unit}` : ''}`).join(', ') + of;
    return { result: worstResult(Results.SUCCESS, gate.result), stateString: [summary, ...gate.notes].join('; ') };
  }

  /** Why a run's keys are wrong (not among `keys`, or not those of the first run), or null. */
  private unexpectedKeys(values: [string, number][], first: [string, number][] | undefined): string | null {
    const { keys } = this.options;
    const unexpected = keys ? values.find(([k]) => !keys.includes(k) && k !== (this.options.metric ?? this.name)) : undefined;
    if (unexpected) return `unexpected key "${unexpected[0]}" (keys: ${keys?.join(', ')})`;
    const names = (v: [string, number][]) => v.map(([k]) => k).join(', ');
    if (first && names(values) !== names(first)) return `printed ${names(values)}, but the first run printed ${names(first)}`;
    return null;
  }
}
