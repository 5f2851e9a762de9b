import { z } from 'zod';
import { render, type Renderable } from './properties/interpolate.ts';
import { Results, resultName, worstResult, type Result } from '../core/results.ts';
import type { StepContext, TriggeredRequest } from './step-context.ts';
import { commonStepShape, FLUNKING_FLAGS, Step, type CommonStepOptions, type StepOutcome } from './step.ts';
import { renderableString } from './properties/renderable-schema.ts';

export interface TriggerOptions extends Omit<CommonStepOptions, 'name'> {
  /** Default `trigger`. */
  name?: string;
  /** Triggerable schedulers whose builders to request (each must be a `triggerableScheduler`). */
  schedulerNames: string[];
  /**
   * Wait until the triggered builds end, and take the worst of their results (default false: the step
   * succeeds once they are queued).
   */
  waitForFinish?: boolean;
  /** Build properties of this build copied to the triggered ones (those it has). */
  copyProperties?: string[];
  /** Properties set on the triggered builds, rendered from this build's (interpolate(...) allowed). */
  setProperties?: Record<string, Renderable<string> | number | boolean>;
  /**
   * Pass this build's source on (default true): the repository and commit it checked out
   * (`got_repository` and `got_revision` of its Git step, else its own `repository` and `revision`)
   * with its `branch` and `project`, so the triggered builds' Git steps for that repository check out
   * the same commit (and those for other repositories their own branch). Nothing is passed when the
   * repository is unknown: a revision without its repository would be checked out anywhere.
   */
  updateSourceStamp?: boolean;
}

const propertyName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a property name');

/**
 * Starts builds of other builders through triggerable schedulers, as Buildbot's Trigger step: a build
 * that fans out to a test matrix, or a deployment that runs after its build. The triggered builds
 * build this build's changes and source. With `waitForFinish`, the step ends with the worst of their
 * results (an unfinished one, when this build is stopped, counts as CANCELLED).
 */
export class Trigger extends Step<TriggerOptions & { name: string }> {
  readonly schema: z.ZodType = z.strictObject({
    ...commonStepShape,
    schedulerNames: z.array(z.string().min(1)).min(1, 'needs at least one scheduler'),
    waitForFinish: z.boolean().optional(),
    copyProperties: z.array(propertyName).optional(),
    setProperties: z.record(propertyName, z.union([renderableString, z.number(), z.boolean()])).optional(),
    updateSourceStamp: z.boolean().optional(),
  });
  protected override readonly defaultFlags = FLUNKING_FLAGS;

  constructor(options: TriggerOptions) {
    super({ name: 'trigger', ...options });
  }

  override triggers(): string[] {
    const names = this.options.schedulerNames;
    return Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : []; // the schema reports the rest
  }

  async run(ctx: StepContext): Promise<StepOutcome> {
    const properties = await this.propertiesToPass(ctx);
    const o = this.options;
    const requests: TriggeredRequest[] = [];
    // A nightly triggerable scheduler requests nothing now: it is armed for its next time (as Buildbot's, nothing to wait for).
    const armed: string[] = [];
    for (const scheduler of o.schedulerNames) {
      const made = await ctx.trigger(scheduler, properties);
      if (made.length === 0) armed.push(scheduler);
      requests.push(...made);
    }
    const log = await ctx.addLog('triggered');
    for (const r of requests) await log.append(`${r.builder}: build request ${r.buildrequestid}\n`);
    for (const name of armed)
      await log.append(`${name}: nothing requested now (a nightly triggerable scheduler builds at its next time)\n`);
    const done = [
      requests.length > 0 ? `triggered ${requests.map((r) => r.builder).join(', ')}` : '',
      armed.length > 0 ? `armed ${armed.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    if (!o.waitForFinish || requests.length === 0) {
      await log.finish();
      return { result: Results.SUCCESS, stateString: done };
    }
    await ctx.setStateString(`waiting for ${requests.map((r) => r.builder).join(', ')}`);
    const ended = await ctx.waitFor(requests);
    for (const r of ended)
      await log.append(
        `${r.builder}: build request ${r.buildrequestid} ended ${r.results === null ? 'unfinished' : resultName(r.results)}\n`,
      );
    await log.finish();
    if (ctx.signal.aborted) return { result: Results.CANCELLED, stateString: 'cancelled while waiting' };
    if (ended.some((r) => r.results === null))
      return { result: Results.CANCELLED, stateString: 'stopped waiting: the master is shutting down' };
    const result = ended.map((r) => r.results ?? Results.CANCELLED).reduce<Result>((a, r) => worstResult(a, r), Results.SUCCESS);
    return { result, stateString: ended.map((r) => `${r.builder} ${resultName(r.results ?? Results.CANCELLED)}`).join(', ') };
  }

  private async propertiesToPass(ctx: StepContext): Promise<Record<string, unknown>> {
    const o = this.options;
    const p = ctx.properties;
    const out: Record<string, unknown> = {};
    if (o.updateSourceStamp !== false) {
      const got = typeof p.get('got_repository') === 'string' && p.get('got_revision') !== undefined;
      const repository = got ? p.get('got_repository') : p.get('repository');
      const revision = got ? p.get('got_revision') : p.get('revision');
      if (typeof repository === 'string' && repository !== '') {
        out.repository = repository;
        if (revision !== undefined && revision !== null) out.revision = revision;
        for (const name of ['branch', 'project']) if (p.has(name)) out[name] = p.get(name);
      }
    }
    for (const name of o.copyProperties ?? []) if (p.has(name)) out[name] = p.get(name);
    // Properties are stored and shown: a secret may not be rendered into them.
    const reader = {
      get: (name: string) => p.get(name),
      has: (name: string) => p.has(name),
      worker: () => p.worker(),
      secret: (name: string): string => {
        throw new Error(`setProperties cannot use %(secret:${name})s: properties are stored and shown (use secrets in commands and env)`);
      },
    };
    for (const [name, value] of Object.entries(o.setProperties ?? {}))
      out[name] = typeof value === 'number' || typeof value === 'boolean' ? value : await render(value, reader);
    return out;
  }
}
