import { z } from 'zod';
import { Results, type Result, type ResultFlags } from '../core/results.ts';
import type { PropertyReader } from './properties/interpolate.ts';
import type { CommandRequest, StepContext } from './step-context.ts';

export interface StepOutcome {
  result: Result;
  /** One line for the UI; the build masks secrets in it, then cuts it to 500 characters. */
  stateString?: string;
}

export interface CommonStepOptions {
  /** Unique within the builder's factory. */
  name: string;
  description?: string;
  haltOnFailure?: boolean;
  flunkOnFailure?: boolean;
  warnOnFailure?: boolean;
  flunkOnWarnings?: boolean;
  warnOnWarnings?: boolean;
  /** Run even after an earlier step halted the build. */
  alwaysRun?: boolean;
  /** Run the step only when this is (or returns) true; otherwise it is SKIPPED. */
  doStepIf?: boolean | ((props: PropertyReader) => boolean | Promise<boolean>);
  /** Hide the finished step in the UI (stored as the step's `hidden`): a flag, or decided from its result. */
  hideStepIf?: boolean | ((result: Result, props: PropertyReader) => boolean | Promise<boolean>);
  /** The state string of a successful step (words of a list joined by spaces), instead of the step's own. */
  descriptionDone?: string | string[];
  /** Appended (after a space) to the step's state string, whatever its result. */
  descriptionSuffix?: string | string[];
}

const words = z.union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).min(1).max(20)]);
const fn = (what: string) => z.custom<(...args: never[]) => unknown>((v) => typeof v === 'function', `must be a ${what}`);

/** Zod shape of the options every step takes; step types extend it. */
export const commonStepShape = {
  name: z
    .string()
    .min(1)
    .max(100)
    // Spaces too, as Buildbot's step names have them: the API names steps by id, so no path holds one.
    .regex(/^[A-Za-z0-9_.:-]+( [A-Za-z0-9_.:-]+)*$/, 'letters, digits, "_", ".", ":", "-" and single spaces between words only'),
  description: z.string().max(500).optional(),
  haltOnFailure: z.boolean().optional(),
  flunkOnFailure: z.boolean().optional(),
  warnOnFailure: z.boolean().optional(),
  flunkOnWarnings: z.boolean().optional(),
  warnOnWarnings: z.boolean().optional(),
  alwaysRun: z.boolean().optional(),
  doStepIf: z.union([z.boolean(), fn('function of the properties')]).optional(),
  hideStepIf: z.union([z.boolean(), fn('function (result, properties) => boolean')]).optional(),
  descriptionDone: words.optional(),
  descriptionSuffix: words.optional(),
};

const STEP = Symbol.for('caliper.step');

/** The defaults of steps that do work (commands, triggers): a failure fails the build, and it goes on. */
export const FLUNKING_FLAGS: ResultFlags = {
  haltOnFailure: false,
  flunkOnFailure: true,
  warnOnFailure: false,
  flunkOnWarnings: false,
  warnOnWarnings: true,
};

export function isStep(value: unknown): value is Step {
  return typeof value === 'object' && value !== null && STEP in value && value[STEP] === true;
}

/**
 * A step of a build. Constructors never throw: options are checked with `schema` when the config is
 * compiled, so every mistake in a config is reported at once with its path.
 */
export abstract class Step<O extends CommonStepOptions = CommonStepOptions> {
  readonly [STEP] = true;
  abstract readonly schema: z.ZodType;
  protected readonly defaultFlags: ResultFlags = {
    haltOnFailure: false,
    flunkOnFailure: false,
    warnOnFailure: false,
    flunkOnWarnings: false,
    warnOnWarnings: true,
  };

  readonly options: O;

  constructor(options: O) {
    // A step made without options is reported by the config check, not a TypeError here or later.
    this.options = options ?? ({} as O);
  }

  get name(): string {
    return this.options.name;
  }

  get alwaysRun(): boolean {
    return this.options.alwaysRun ?? false;
  }

  flags(): ResultFlags {
    const o = this.options;
    const d = this.defaultFlags;
    return {
      haltOnFailure: o.haltOnFailure ?? d.haltOnFailure,
      flunkOnFailure: o.flunkOnFailure ?? d.flunkOnFailure,
      warnOnFailure: o.warnOnFailure ?? d.warnOnFailure,
      flunkOnWarnings: o.flunkOnWarnings ?? d.flunkOnWarnings,
      warnOnWarnings: o.warnOnWarnings ?? d.warnOnWarnings,
    };
  }

  async shouldRun(props: PropertyReader): Promise<boolean> {
    const cond = this.options.doStepIf;
    if (cond === undefined) return true;
    return typeof cond === 'function' ? Boolean(await cond(props)) : cond;
  }

  /** Whether the finished step is hidden in the UI (hideStepIf). */
  async hidden(result: Result, props: PropertyReader): Promise<boolean> {
    const cond = this.options.hideStepIf;
    if (cond === undefined) return false;
    return typeof cond === 'function' ? Boolean(await cond(result, props)) : cond;
  }

  /**
   * The log this step's run() writes first, when that is known before it runs (a plain command's
   * `stdio`): the master then stores the log's row with the step's own, and the command goes out
   * without a database write of its own first. undefined (the default): not known; a step that
   * never writes it loses nothing, the master removes it at the step's end.
   */
  firstLog(): { name: string; type: 's' | 't' } | undefined {
    return undefined;
  }

  /**
   * The command this step's run() will ask for, rendered from `props` before the step starts, when
   * that is known (a plain ShellCommand's): the master may send it to the agent while the step before
   * runs (master/build/command-ahead.ts). Null (the default): not known.
   */
  requestAhead(_props: PropertyReader): Promise<CommandRequest | null> {
    return Promise.resolve(null);
  }

  /**
   * Whether the step runs one command, sets no property, and ends SUCCESS whenever that command
   * exits 0 (a plain ShellCommand): then the next step's command may start on the agent the moment
   * this one exits 0. False (the default) for any other step.
   */
  succeedsOnExitZero(): boolean {
    return false;
  }

  /** The state string shown for the finished step: descriptionDone on success, then descriptionSuffix. */
  describe(outcome: StepOutcome): string | undefined {
    const { descriptionDone, descriptionSuffix } = this.options;
    const base = outcome.result === Results.SUCCESS && descriptionDone !== undefined ? joinWords(descriptionDone) : outcome.stateString;
    if (descriptionSuffix === undefined) return base;
    return [base, joinWords(descriptionSuffix)].filter((w) => w !== undefined && w !== '').join(' ');
  }

  abstract run(ctx: StepContext): Promise<StepOutcome>;

  /** Build properties this step sets (so config can check trackProperties names). */
  providedProperties(): string[] {
    return [];
  }

  /** Whether this step reports measured values (so config can check trackCustomStep names). */
  measures(): boolean {
    return false;
  }

  /** Schedulers this step triggers (so config can check each is a triggerable scheduler). */
  triggers(): string[] {
    return [];
  }
}

const joinWords = (w: string | string[]): string => (Array.isArray(w) ? w.join(' ') : w);

export { Results };
