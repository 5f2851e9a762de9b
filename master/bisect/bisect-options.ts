/**
 * The builder option `bisect: { maxBuilds, maxPerDay, repeats? }`: opt-in bisection of a confirmed,
 * worse change point to its culprit commit (docs/metrics.md, "Bisection"). The shape is checked with
 * the rest of the builder (schema.ts); `bisectIssues` adds what needs the builder's steps: a builder
 * that bisects must check its source out with a Git step whose repourl is a plain string, since the
 * master lists the commits between good and bad from its own mirror of that repository.
 */
import { z } from 'zod';
import type { ConfigIssue } from '../../core/errors/index.ts';
import { isRecord } from '../../core/is-record.ts';
import { Git } from '../../steps/git.ts';

const count = (what: string, max: number) =>
  z
    .number({ error: () => `must be a whole number (${what})` })
    .int(`must be a whole number (${what})`)
    .min(1, `must be at least 1 (${what})`)
    .max(max, `must be at most ${max} (${what})`);

export const bisectOptionsSchema = z.strictObject({
  /** Builds one bisection may request, repeats included. */
  maxBuilds: count('builds per bisection', 1000),
  /** Builds all bisections of this builder may request in any 24 hours. */
  maxPerDay: count('bisection builds per day for this builder', 10_000),
  /** Extra builds of one commit when its comparison is borderline (default 2; 0: never repeat). */
  repeats: z
    .number({ error: () => 'must be a whole number (extra builds of a borderline commit)' })
    .int('must be a whole number (extra builds of a borderline commit)')
    .min(0, 'must be 0 or more (extra builds of a borderline commit)')
    .max(20, 'must be at most 20 (extra builds of a borderline commit)')
    .default(2),
});

export type BisectOptions = z.output<typeof bisectOptionsSchema>;

/** The repository URL of the builder's first Git step, if it is a plain string. */
export function gitRepourlOf(steps: readonly unknown[]): string | null {
  for (const step of steps) if (step instanceof Git && typeof step.options.repourl === 'string') return step.options.repourl;
  return null;
}

/** A builder with `bisect` and no Git step with a plain repourl: it cannot be bisected. */
export function bisectIssues(builders: unknown): ConfigIssue[] {
  if (!Array.isArray(builders)) return [];
  return builders.flatMap((b: unknown, i) => {
    if (!isRecord(b) || b.bisect === undefined) return [];
    const factory = b.factory;
    const steps = isRecord(factory) && Array.isArray(factory.steps) ? (factory.steps as unknown[]) : [];
    if (gitRepourlOf(steps) !== null) return [];
    return [
      {
        path: `builders[${i}].bisect`,
        message: 'needs a Git step with a plain string repourl in the factory: the master lists the commits to bisect from it',
      },
    ];
  });
}
