import { describe, expect, it } from 'vitest';
import { applyStepResult, isResult, resultName, Results, worstResult, type Result } from '../../core/results.ts';
import { flags } from './helpers.ts';

const WORST_FIRST: Result[] = [
  Results.CANCELLED,
  Results.RETRY,
  Results.EXCEPTION,
  Results.FAILURE,
  Results.WARNINGS,
  Results.SUCCESS,
  Results.SKIPPED,
];

describe('worstResult', () => {
  it('orders CANCELLED > RETRY > EXCEPTION > FAILURE > WARNINGS > SUCCESS > SKIPPED, whichever side', () => {
    WORST_FIRST.forEach((worse, i) => {
      for (const better of WORST_FIRST.slice(i + 1)) {
        expect(worstResult(worse, better), `${resultName(worse)} vs ${resultName(better)}`).toBe(worse);
        expect(worstResult(better, worse), `${resultName(better)} vs ${resultName(worse)}`).toBe(worse);
      }
    });
  });

  it('returns the result itself when both are the same', () => {
    for (const r of WORST_FIRST) expect(worstResult(r, r)).toBe(r);
  });

  it('lets SKIPPED never worsen a result', () => {
    expect(worstResult(Results.SUCCESS, Results.SKIPPED)).toBe(Results.SUCCESS);
    expect(worstResult(Results.SKIPPED, Results.WARNINGS)).toBe(Results.WARNINGS);
  });

  it('folds a list to its worst element', () => {
    const results: Result[] = [Results.SUCCESS, Results.WARNINGS, Results.SKIPPED, Results.FAILURE, Results.SUCCESS];
    expect(results.reduce(worstResult, Results.SKIPPED)).toBe(Results.FAILURE);
  });
});

describe('resultName', () => {
  it.each([
    [Results.SUCCESS, 'success'],
    [Results.WARNINGS, 'warnings'],
    [Results.FAILURE, 'failure'],
    [Results.SKIPPED, 'skipped'],
    [Results.EXCEPTION, 'exception'],
    [Results.RETRY, 'retry'],
    [Results.CANCELLED, 'cancelled'],
  ] as const)('names %i "%s"', (code, name) => {
    expect(resultName(code)).toBe(name);
  });

  it('keeps Buildbot numeric codes', () => {
    expect(Results).toEqual({ SUCCESS: 0, WARNINGS: 1, FAILURE: 2, SKIPPED: 3, EXCEPTION: 4, RETRY: 5, CANCELLED: 6 });
  });

  it('has no name for a missing result', () => {
    expect(resultName(null)).toBeNull();
    expect(resultName(undefined)).toBeNull();
  });
});

describe('isResult', () => {
  it('accepts the seven codes only', () => {
    for (const r of WORST_FIRST) expect(isResult(r)).toBe(true);
    for (const v of [-1, 7, 1.5, '0', null, undefined, Number.NaN]) expect(isResult(v), String(v)).toBe(false);
  });
});

describe('applyStepResult', () => {
  it('counts a FAILURE as FAILURE with flunkOnFailure, and halts only with haltOnFailure', () => {
    expect(applyStepResult(flags({ flunkOnFailure: true }), Results.FAILURE, Results.SUCCESS)).toEqual({
      buildResult: Results.FAILURE,
      terminate: false,
    });
    expect(applyStepResult(flags({ flunkOnFailure: true, haltOnFailure: true }), Results.FAILURE, Results.SUCCESS)).toEqual({
      buildResult: Results.FAILURE,
      terminate: true,
    });
  });

  it('counts a FAILURE as WARNINGS with flunkOnFailure false and warnOnFailure true', () => {
    expect(applyStepResult(flags({ flunkOnFailure: false, warnOnFailure: true }), Results.FAILURE, Results.SUCCESS)).toEqual({
      buildResult: Results.WARNINGS,
      terminate: false,
    });
  });

  it('does not count a FAILURE at all with neither flunkOnFailure nor warnOnFailure', () => {
    expect(applyStepResult(flags({ flunkOnFailure: false, warnOnFailure: false }), Results.FAILURE, Results.SUCCESS)).toEqual({
      buildResult: Results.SUCCESS,
      terminate: false,
    });
  });

  it('still halts on a FAILURE that does not count, when haltOnFailure is set', () => {
    expect(applyStepResult(flags({ flunkOnFailure: false, haltOnFailure: true }), Results.FAILURE, Results.SUCCESS)).toEqual({
      buildResult: Results.SUCCESS,
      terminate: true,
    });
  });

  it('counts WARNINGS as WARNINGS by default, as SUCCESS with warnOnWarnings false, as FAILURE with flunkOnWarnings', () => {
    expect(applyStepResult(flags(), Results.WARNINGS, Results.SUCCESS)).toEqual({ buildResult: Results.WARNINGS, terminate: false });
    expect(applyStepResult(flags({ warnOnWarnings: false }), Results.WARNINGS, Results.SUCCESS)).toEqual({
      buildResult: Results.SUCCESS,
      terminate: false,
    });
    expect(applyStepResult(flags({ flunkOnWarnings: true }), Results.WARNINGS, Results.SUCCESS)).toEqual({
      buildResult: Results.FAILURE,
      terminate: false,
    });
  });

  it('never halts on WARNINGS, even with haltOnFailure', () => {
    expect(applyStepResult(flags({ haltOnFailure: true, flunkOnWarnings: true }), Results.WARNINGS, Results.SUCCESS).terminate).toBe(false);
  });

  it.each([Results.EXCEPTION, Results.RETRY, Results.CANCELLED])('counts %i as itself and terminates, whatever the flags', (r) => {
    const noFlags = flags({ flunkOnFailure: false, warnOnWarnings: false });
    expect(applyStepResult(noFlags, r, Results.SUCCESS)).toEqual({ buildResult: r, terminate: true });
    expect(applyStepResult(flags(), r, Results.WARNINGS)).toEqual({ buildResult: r, terminate: true });
  });

  it('never lets SKIPPED or SUCCESS worsen the build result', () => {
    for (const build of WORST_FIRST.filter((r) => r !== Results.SKIPPED)) {
      expect(applyStepResult(flags(), Results.SKIPPED, build)).toEqual({ buildResult: build, terminate: false });
    }
    expect(applyStepResult(flags(), Results.SUCCESS, Results.WARNINGS)).toEqual({ buildResult: Results.WARNINGS, terminate: false });
  });

  it('never improves a build that is already worse than the step', () => {
    expect(applyStepResult(flags(), Results.WARNINGS, Results.FAILURE).buildResult).toBe(Results.FAILURE);
    expect(applyStepResult(flags(), Results.FAILURE, Results.EXCEPTION).buildResult).toBe(Results.EXCEPTION);
  });
});
