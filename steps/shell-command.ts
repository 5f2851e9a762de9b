import { z } from 'zod';
import {
  isInterpolate,
  renderCommand,
  render,
  rendersFromProperties,
  type PropertyReader,
  type Renderable,
} from './properties/interpolate.ts';
import { isResult, Results, type Result } from '../core/results.ts';
import type { CommandRequest, CommandResult, StepContext } from './step-context.ts';
import { commonStepShape, FLUNKING_FLAGS, Step, type CommonStepOptions, type StepOutcome } from './step.ts';
import { renderableString } from './properties/renderable-schema.ts';
import { isSafeRelativePath } from '../protocol/safe-path.ts';

export interface ShellCommandOptions extends CommonStepOptions {
  /** argv (no shell) or a string run by `sh -c`. */
  command: Renderable<string | Renderable<string>[]>;
  /** Relative to the builder's directory on the agent. Default `build`. */
  workdir?: string;
  env?: Record<string, Renderable<string>>;
  /** Seconds without output before the command is killed (default 1200; null for never). */
  timeout?: number | null;
  /** Seconds of wall time before the command is killed (default none). */
  maxTime?: number | null;
  /** Seconds between SIGTERM and SIGKILL when the command is stopped or timed out (Buildbot's sigtermTime; default the agent's 3 s). */
  sigtermTime?: number;
  /** Exit code -> result; codes not listed are FAILURE. Default {0: SUCCESS}. */
  decodeRC?: Record<number, Result>;
  /**
   * Print the environment the master sends (the step's `env`, masked) at the top of the `stdio` log.
   * Default false: unlike Buildbot's, the master does not know the agent's own environment.
   */
  logEnviron?: boolean;
}

export const shellCommandShape = {
  ...commonStepShape,
  command: z.union([
    z.string().min(1, 'must not be empty'),
    z.array(renderableString).min(1, 'must have at least the program name'),
    z.custom((v) => typeof v === 'function' || isInterpolate(v), 'must be a string, an argv array, interpolate(...) or a function'),
  ]),
  workdir: z.string().refine(isSafeRelativePath, 'must be a relative path without ".."').optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), renderableString).optional(),
  timeout: z.number().positive().nullable().optional(),
  maxTime: z.number().positive().nullable().optional(),
  /** Seconds between SIGTERM and SIGKILL when the command is stopped or timed out (Buildbot's sigtermTime). */
  sigtermTime: z.number().positive().max(3600).optional(),
  decodeRC: z
    .record(z.string().regex(/^-?\d+$/, 'keys must be exit codes'), z.custom<Result>(isResult, 'must be a result code (Results.*)'))
    .optional(),
  logEnviron: z.boolean().optional(),
};

export const DEFAULT_TIMEOUT_S = 1200;

/** Runs a command on the agent; its exit code decides the result. */
export class ShellCommand<O extends ShellCommandOptions = ShellCommandOptions> extends Step<O> {
  readonly schema: z.ZodType = z.strictObject(shellCommandShape);
  protected override readonly defaultFlags = FLUNKING_FLAGS;

  async run(ctx: StepContext): Promise<StepOutcome> {
    const result = await ctx.runCommand(await this.commandRequest(ctx));
    return this.evaluate(result);
  }

  /** `stdio`, which runCommand() writes first; not for a subclass with a run() or request of its own (it may write another first). */
  override firstLog(): { name: string; type: 's' | 't' } | undefined {
    return this.plainCommand() ? { name: 'stdio', type: 's' } : undefined;
  }

  /** A subclass with a run() or request of its own may ask for anything: only ShellCommand's own is known ahead. */
  override async requestAhead(props: PropertyReader): Promise<CommandRequest | null> {
    const o = this.options;
    if (!this.plainCommand() || !rendersFromProperties(o.command) || !rendersFromProperties(Object.values(o.env ?? {}))) return null;
    return this.renderRequest(props);
  }

  /** Exit 0 is SUCCESS unless decodeRC says otherwise, and a subclass may judge more than the exit code (its evaluate()). */
  override succeedsOnExitZero(): boolean {
    const decoded = this.options.decodeRC?.[0];
    return (
      this.plainCommand() && this.evaluate === ShellCommand.prototype.evaluate && (decoded === undefined || decoded === Results.SUCCESS)
    );
  }

  /** The run() and command request are ShellCommand's own. */
  private plainCommand(): boolean {
    return this.run === ShellCommand.prototype.run && this.commandRequest === ShellCommand.prototype.commandRequest;
  }

  protected async commandRequest(ctx: StepContext, extra: Partial<CommandRequest> = {}): Promise<CommandRequest> {
    return { ...(await this.renderRequest(ctx.properties)), ...extra };
  }

  private async renderRequest(props: PropertyReader): Promise<CommandRequest> {
    const o = this.options;
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(o.env ?? {})) env[key] = String(await render(value, props));
    return {
      command: await renderCommand(o.command, props),
      workdir: o.workdir ?? 'build',
      env,
      timeout: o.timeout === undefined ? DEFAULT_TIMEOUT_S : o.timeout,
      maxTime: o.maxTime ?? null,
      ...(o.sigtermTime !== undefined ? { sigtermTime: o.sigtermTime } : {}),
      ...(o.logEnviron ? { header: environHeader(env) } : {}),
    };
  }

  protected evaluate(r: CommandResult): StepOutcome {
    return commandOutcome(r, this.options);
  }
}

/** The header lines logEnviron writes: one `NAME=value` per variable the master sends. */
export function environHeader(env: Record<string, string>): string {
  const names = Object.keys(env).sort();
  if (names.length === 0) return 'environment: (none set by the step)\n';
  return `environment:\n${names.map((n) => ` ${n}=${env[n]}\n`).join('')}`;
}

/** A finished command's result: lost agent, failure to start, kills, then the exit code through decodeRC. */
export function commandOutcome(r: CommandResult, o: Pick<ShellCommandOptions, 'timeout' | 'maxTime' | 'decodeRC'>): StepOutcome {
  if (r.lost) return { result: Results.RETRY, stateString: 'agent lost' };
  if (r.error) return { result: Results.FAILURE, stateString: r.error };
  if (r.killed === 'cancel') return { result: Results.CANCELLED, stateString: 'cancelled' };
  if (r.killed === 'timeout') return { result: Results.FAILURE, stateString: `killed: no output for ${o.timeout ?? DEFAULT_TIMEOUT_S}s` };
  if (r.killed === 'maxTime') return { result: Results.FAILURE, stateString: `killed: ran longer than ${o.maxTime}s` };
  if (r.exitCode === null) return { result: Results.FAILURE, stateString: `killed by ${r.signal ?? 'signal'}` };
  const decoded = o.decodeRC ? o.decodeRC[r.exitCode] : r.exitCode === 0 ? Results.SUCCESS : undefined;
  const result = decoded ?? Results.FAILURE;
  return { result, stateString: r.exitCode === 0 ? 'done' : `exit code ${r.exitCode}` };
}
