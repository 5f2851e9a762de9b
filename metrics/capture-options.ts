import { z } from 'zod';
import { RESERVED_TAG_NAMES } from './series-filter.ts';

export const METRIC_KINDS = ['count', 'duration', 'gauge', 'size', 'ratio'] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];

export const seriesName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z_][A-Za-z0-9_.:-]*$/, 'series names: a letter or "_" first, then letters, digits, "_", ".", ":" or "-"');

const tagKey = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'tag names: a letter or "_" first, then letters, digits or "_"')
  .refine((k) => !RESERVED_TAG_NAMES.has(k), `is a field name (${[...RESERVED_TAG_NAMES].join(', ')}) and cannot be a tag`);

export const captureOptionsSchema = z
  .strictObject({
    tags: z.record(tagKey, z.string().min(1).max(200)).optional(),
    /** Store the running total of every value reported (per series and tags). */
    accumulate: z.boolean().optional(),
    /** Like accumulate, but adds |value|. */
    absValue: z.boolean().optional(),
    /** Store the change from the previously reported value (nothing is stored for the first one). */
    diff: z.boolean().optional(),
    kind: z.enum(METRIC_KINDS).optional(),
    unit: z.string().max(30).optional(),
    buildNumber: z.number().int().nullable().optional(),
    buildid: z.number().int().nullable().optional(),
  })
  .refine((o) => [o.accumulate, o.absValue, o.diff].filter(Boolean).length <= 1, { message: 'accumulate, absValue and diff exclude each other' });

export type CaptureOptions = z.input<typeof captureOptionsSchema>;
