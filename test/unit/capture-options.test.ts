/** The zod-free fast path accepts only what the schema accepts, unchanged. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { captureOptionsSchema, plainCaptureOptions } from '../../metrics/capture-options.ts';

const tagKey = fc.oneof(
  fc.constantFrom('builder', 'step', 'agent', 'result', 'value', 'buildid', 'time', 'team', '1x', 'a-b', ''),
  fc.string({ maxLength: 70 }),
);
const tagValue = fc.oneof(fc.string({ maxLength: 210 }), fc.constant(''), fc.integer(), fc.constant(null));
const options = fc.record(
  {
    tags: fc.oneof(fc.dictionary(tagKey, tagValue, { maxKeys: 4 }), fc.constant(null), fc.constant([]), fc.constant(undefined)),
    accumulate: fc.oneof(fc.boolean(), fc.constant(undefined), fc.constant('yes')),
    absValue: fc.oneof(fc.boolean(), fc.constant(undefined)),
    diff: fc.oneof(fc.boolean(), fc.constant(undefined)),
    kind: fc.oneof(fc.constantFrom('count', 'duration', 'gauge', 'size', 'ratio', 'speed'), fc.constant(undefined)),
    unit: fc.oneof(fc.string({ maxLength: 40 }), fc.constant(undefined), fc.constant(3)),
    buildNumber: fc.oneof(fc.integer(), fc.constant(null), fc.constant(undefined), fc.double()),
    buildid: fc.oneof(fc.integer(), fc.constant(null), fc.constant(undefined)),
    extra: fc.constant(1),
  },
  { requiredKeys: [] },
);

describe('plainCaptureOptions', () => {
  it('never accepts what the schema refuses, and accepts common options', () => {
    let accepted = 0;
    fc.assert(
      fc.property(options, (o) => {
        if (!plainCaptureOptions(o)) return;
        accepted++;
        const parsed = captureOptionsSchema.safeParse(o);
        expect(parsed.success, JSON.stringify(o)).toBe(true);
        expect(parsed.data).toEqual(Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
      }),
      { numRuns: 3000, seed: 42 },
    );
    expect(accepted).toBeGreaterThan(20); // the generator mostly makes invalid options
    expect(plainCaptureOptions({ tags: { builder: 'b', step: 's' }, kind: 'duration', unit: 's', buildNumber: 3, buildid: 9 })).toBe(true);
    expect(plainCaptureOptions({ accumulate: true, diff: true })).toBe(false);
    expect(plainCaptureOptions({ tags: { value: 'x' } })).toBe(false);
  });
});
