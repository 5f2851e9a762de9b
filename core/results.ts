/**
 * Build and step results, with Buildbot's numeric codes so tools that speak Buildbot's data API read
 * ours. The API always returns the readable name beside the code.
 */
export const Results = {
  SUCCESS: 0,
  WARNINGS: 1,
  FAILURE: 2,
  SKIPPED: 3,
  EXCEPTION: 4,
  RETRY: 5,
  CANCELLED: 6,
} as const;

export type Result = (typeof Results)[keyof typeof Results];
export type ResultName = 'success' | 'warnings' | 'failure' | 'skipped' | 'exception' | 'retry' | 'cancelled';

const NAMES: Record<Result, ResultName> = {
  0: 'success',
  1: 'warnings',
  2: 'failure',
  3: 'skipped',
  4: 'exception',
  5: 'retry',
  6: 'cancelled',
};

export function resultName(result: Result | null | undefined): ResultName | null {
  return result === null || result === undefined ? null : NAMES[result];
}

export function isResult(value: unknown): value is Result {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 6;
}

/** Worst first, as Buildbot orders them: SKIPPED never makes anything worse. */
const SEVERITY: readonly Result[] = [
  Results.CANCELLED,
  Results.RETRY,
  Results.EXCEPTION,
  Results.FAILURE,
  Results.WARNINGS,
  Results.SUCCESS,
  Results.SKIPPED,
];

export function worstResult(a: Result, b: Result): Result {
  for (const r of SEVERITY) if (r === a || r === b) return r;
  return a;
}

export interface ResultFlags {
  haltOnFailure: boolean;
  flunkOnFailure: boolean;
  warnOnFailure: boolean;
  flunkOnWarnings: boolean;
  warnOnWarnings: boolean;
}

/**
 * How one step's result counts toward its build (Buildbot's computeResultAndTermination):
 * returns the build's new result and whether the build must stop running further steps.
 */
export function applyStepResult(flags: ResultFlags, stepResult: Result, buildResult: Result): { buildResult: Result; terminate: boolean } {
  let counted: Result = stepResult;
  let terminate = false;
  switch (stepResult) {
    case Results.FAILURE:
      counted = flags.flunkOnFailure ? Results.FAILURE : flags.warnOnFailure ? Results.WARNINGS : Results.SUCCESS;
      terminate = flags.haltOnFailure;
      break;
    case Results.WARNINGS:
      counted = flags.flunkOnWarnings ? Results.FAILURE : flags.warnOnWarnings ? Results.WARNINGS : Results.SUCCESS;
      break;
    case Results.EXCEPTION:
    case Results.RETRY:
    case Results.CANCELLED:
      terminate = true;
      break;
    case Results.SUCCESS:
    case Results.SKIPPED:
      break;
    default: {
      const never: never = stepResult;
      throw new Error(`unknown result ${String(never)}`);
    }
  }
  return { buildResult: worstResult(buildResult, counted), terminate };
}

/**
 * A finished build's one line, as Buildbot words it: `failed test lint`. `stopReason` follows a
 * cancel (who stopped it, or why); `retryReason` a retry (the master's builds retry when an agent is lost).
 */
export function buildStateString(
  result: Result,
  failed: readonly string[],
  why: { stopReason?: string | null; retryReason?: string } = {},
): string {
  switch (result) {
    case Results.SUCCESS:
      return 'build successful';
    case Results.WARNINGS:
      return `warnings ${failed.join(' ')}`.trim();
    case Results.FAILURE:
      return `failed ${failed.join(' ')}`.trim();
    case Results.SKIPPED:
      return 'skipped';
    case Results.EXCEPTION:
      return `exception ${failed.join(' ')}`.trim();
    case Results.RETRY:
      return why.retryReason ? `retry: ${why.retryReason}` : 'retry';
    case Results.CANCELLED:
      return `cancelled${why.stopReason ? `: ${why.stopReason}` : ''}`;
    default: {
      const never: never = result;
      return String(never);
    }
  }
}
