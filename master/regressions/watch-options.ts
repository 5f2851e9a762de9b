/**
 * The builder options of the regression watcher, in the config schema (master/config/schema.ts):
 * - `confirm: { reruns, agent? }`: a worse change of this builder is confirmed by `reruns` more builds
 *   of the same source before it is alerted; `agent`: 'same' or 'other' than the build after the change;
 * - `changePoints: { perAgent }`: watch this builder's series per agent (a build farm of unlike machines).
 */
import { z } from 'zod';

export const MAX_CONFIRM_RERUNS = 20;

export const confirmOptionsSchema = z.strictObject({
  reruns: z
    .number({ error: () => 'must be a whole number of reruns' })
    .int('must be a whole number of reruns')
    .min(1, 'must be at least 1 (leave `confirm` out to confirm changes at once)')
    .max(MAX_CONFIRM_RERUNS, `must be at most ${MAX_CONFIRM_RERUNS}`),
  agent: z.enum(['same', 'other'], { error: () => 'must be "same" or "other"' }).optional(),
});

export const changePointOptionsSchema = z.strictObject({
  perAgent: z.boolean().default(false),
});

export type ConfirmOptions = z.output<typeof confirmOptionsSchema>;
