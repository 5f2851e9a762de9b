import { z } from 'zod';
import { Results, worstResult, type Result } from '../core/results.ts';
import type { StepContext } from './step-context.ts';
import { ShellCommand, shellCommandShape, type ShellCommandOptions } from './shell-command.ts';
import type { StepOutcome } from './step.ts';
import { LINT_FORMAT_NAMES, lintParser, type LintFormat } from './parsers/index.ts';
import type { LintParser } from './parsers/lint-parser.ts';
import { checkRegressions, regressionShape, type RegressionOptions } from './regression-gate.ts';
import { seriesName } from '../metrics/capture-options.ts';

export interface LintOptions extends ShellCommandOptions, RegressionOptions {
  /** 'eslint' (--format json), 'tsc', 'pylint', 'flake8', or regexParser({...}). */
  format: LintFormat | LintParser;
  /** Result when errors are found (default FAILURE). */
  onErrors?: typeof Results.FAILURE | typeof Results.WARNINGS;
  /** Result when only warnings are found (default WARNINGS). */
  onWarnings?: typeof Results.WARNINGS | typeof Results.SUCCESS | typeof Results.FAILURE;
  /** Warnings up to this many still count as SUCCESS (default 0). */
  maxWarnings?: number;
}

/**
 * Runs a linter and counts its findings with a parser. Sets properties `<name>_warnings` and
 * `<name>_errors`, captures both as metric points, and lists the findings in an `issues` log.
 * The linter's exit code is not the verdict (linters exit non-zero when they find something): the
 * counts are, unless the linter could not run or its output cannot be read.
 */
export class Lint extends ShellCommand<LintOptions> {
  override readonly schema: z.ZodType = z
    .strictObject({
      ...shellCommandShape,
      ...regressionShape,
      format: z.union([
        z.enum(LINT_FORMAT_NAMES),
        z.custom<LintParser>(
          (v) => typeof v === 'object' && v !== null && 'parse' in v && typeof v.parse === 'function',
          'must be a parser name or regexParser({...})',
        ),
      ]),
      onErrors: z.union([z.literal(Results.FAILURE), z.literal(Results.WARNINGS)]).optional(),
      onWarnings: z.union([z.literal(Results.WARNINGS), z.literal(Results.SUCCESS), z.literal(Results.FAILURE)]).optional(),
      maxWarnings: z.number().int().min(0).optional(),
    })
    .refine((o) => seriesName.safeParse(`${o.name}_warnings`).success, {
      message:
        'the step name starts the series names <name>_warnings and <name>_errors: it must start with a letter or "_" and hold no spaces',
      path: ['name'],
    });

  override measures(): boolean {
    return true;
  }

  override providedProperties(): string[] {
    return [`${this.name}_warnings`, `${this.name}_errors`];
  }

  override async run(ctx: StepContext): Promise<StepOutcome> {
    const r = await ctx.runCommand(await this.commandRequest(ctx, { collectStdout: true }));
    if (r.lost || r.killed || r.error || r.exitCode === null) return this.evaluate(r);
    const parsed = lintParser(this.options.format).parse(r.stdout);
    if (!parsed.ok) {
      const log = await ctx.addLog('lint-error');
      await log.append(`${parsed.error}\n`);
      return { result: Results.FAILURE, stateString: `unparsable output: ${parsed.error}` };
    }
    if (parsed.issues.length === 0 && r.exitCode !== 0) {
      // A linter that failed without reporting anything (crashed, misconfigured) is not a clean result.
      return { result: Results.FAILURE, stateString: `linter exited with code ${r.exitCode} and reported no findings` };
    }
    const errors = parsed.issues.filter((i) => i.severity === 'error').length;
    const warnings = parsed.issues.length - errors;
    const log = await ctx.addLog('issues');
    for (const i of parsed.issues) await log.append(`${i.severity}: ${i.file}${i.line !== null ? `:${i.line}` : ''}: ${i.message}\n`);
    const counts: [string, number][] = [
      [`${this.name}_warnings`, warnings],
      [`${this.name}_errors`, errors],
    ];
    for (const [name, value] of counts) {
      ctx.properties.set(name, value, this.name);
      await ctx.captureData(name, value, { kind: 'count' });
    }
    let result: Result = Results.SUCCESS;
    if (errors > 0) result = this.options.onErrors ?? Results.FAILURE;
    else if (warnings > (this.options.maxWarnings ?? 0)) result = this.options.onWarnings ?? Results.WARNINGS;
    const gate = await checkRegressions(ctx, counts, this.options);
    const state = [`${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`, ...gate.notes].join('; ');
    return { result: worstResult(result, gate.result), stateString: state };
  }
}
