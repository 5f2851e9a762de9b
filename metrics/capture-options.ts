import { z } from 'zod';
import { RESERVED_TAG_NAMES, RESERVED_TAG_PREFIX, reservedTagName } from './series-filter.ts';

export const METRIC_KINDS = ['count', 'duration', 'gauge', 'size', 'ratio'] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];

export const seriesName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z_][A-Za-z0-9_.:-]*$/, 'series names: a letter or "_" first, then letters, digits, "_", ".", ":" or "-"')
  .refine((name) => !name.startsWith('caliper_rollup'), 'series names starting with "caliper_rollup" are the InfluxDB store\'s own');

export const tagKey = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'tag names: a letter or "_" first, then letters, digits or "_"')
  .refine(
    (k) => !reservedTagName(k),
    `is a field name (${[...RESERVED_TAG_NAMES].join(', ')}, or starts with "${RESERVED_TAG_PREFIX}") and cannot be a tag`,
  );

/** Samples one point may keep. */
export const MAX_SAMPLES = 1000;

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
    /** Epoch microseconds, for points measured elsewhere (POST /metrics/{series}/points); else now. */
    time: z.number().int().positive().optional(),
    /** The samples of a repeated measurement, kept with the point (the value is usually their median). */
    samples: z.array(z.number().refine(Number.isFinite, 'must be a finite number')).min(1).max(MAX_SAMPLES).optional(),
  })
  .refine((o) => [o.accumulate, o.absValue, o.diff].filter(Boolean).length <= 1, {
    message: 'accumulate, absValue and diff exclude each other',
  })
  .refine((o) => o.samples === undefined || !(o.accumulate || o.absValue || o.diff), {
    message: 'samples are of the value itself: they cannot go with accumulate, absValue or diff',
    path: ['samples'],
  });

export type CaptureOptions = z.input<typeof captureOptionsSchema>;

const TAG_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const isInt = (v: unknown) => v === undefined || v === null || Number.isSafeInteger(v);

/** An object literal's kind of object: a prototype of Object's own (no class instance, no null prototype). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * The common case checked without zod (captureData runs for every point: zod costs ~1.5 us of ~10).
 * True only when `captureOptionsSchema` would accept the options unchanged; anything else goes
 * through the schema, which also words the error.
 */
export function plainCaptureOptions(o: unknown): o is z.output<typeof captureOptionsSchema> {
  if (!isPlainObject(o)) return false;
  let flags = 0;
  for (const key in o) {
    const v = o[key];
    switch (key) {
      case 'tags': {
        if (v === undefined) break;
        if (!isPlainObject(v)) return false;
        for (const tag in v) {
          const value = v[tag];
          if (!TAG_KEY.test(tag) || reservedTagName(tag) || typeof value !== 'string' || value.length === 0 || value.length > 200)
            return false;
        }
        break;
      }
      case 'accumulate':
      case 'absValue':
      case 'diff':
        if (v !== undefined && typeof v !== 'boolean') return false;
        if (v === true) flags++;
        break;
      case 'kind':
        if (v !== undefined && !METRIC_KINDS.some((k) => k === v)) return false;
        break;
      case 'unit':
        if (v !== undefined && (typeof v !== 'string' || v.length > 30)) return false;
        break;
      case 'time':
        if (v !== undefined && !(Number.isSafeInteger(v) && (v as number) > 0)) return false;
        break;
      case 'buildNumber':
      case 'buildid':
        if (!isInt(v)) return false;
        break;
      case 'samples':
        // Rare (repeated measurements): the schema checks them and words the error.
        if (v !== undefined) return false;
        break;
      default:
        return false;
    }
  }
  return flags <= 1;
}
