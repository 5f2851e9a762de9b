import { z } from 'zod';
import { Results } from '../core/results.ts';
import type { PropertyReader } from './properties/interpolate.ts';
import type { PropertyValue } from './properties/properties.ts';
import type { StepContext } from './step-context.ts';
import { commonStepShape, FLUNKING_FLAGS, Step, type CommonStepOptions, type StepOutcome } from './step.ts';
import { propertyName, renderableValue, renderPropertyValue, type RenderableValue } from './set-property.ts';

export interface SetPropertiesOptions extends CommonStepOptions {
  /** name -> value (each renderable), or a function of the properties that returns such a record. */
  properties:
    | Record<string, RenderableValue>
    | ((props: PropertyReader) => Record<string, RenderableValue> | Promise<Record<string, RenderableValue>>);
}

const propertyRecord = z.record(propertyName, renderableValue);

/** Sets several build properties at once, without a command (Buildbot's SetProperties); the source is the step's name. */
export class SetProperties extends Step<SetPropertiesOptions> {
  readonly schema: z.ZodType = z.strictObject({
    ...commonStepShape,
    properties: z.union([
      propertyRecord,
      z.custom((v) => typeof v === 'function', 'must be a record of properties or a function returning one'),
    ]),
  });

  // A function that answers nonsense is a broken build, not a note.
  protected override readonly defaultFlags = FLUNKING_FLAGS;

  override providedProperties(): string[] {
    const p = this.options.properties;
    return typeof p === 'function' ? [] : Object.keys(p);
  }

  async run(ctx: StepContext): Promise<StepOutcome> {
    const given = this.options.properties;
    const record = typeof given === 'function' ? await given(ctx.properties) : given;
    // A function's answer is only known now: checked as the config check would have.
    const parsed = propertyRecord.safeParse(record);
    if (!parsed.success) return { result: Results.FAILURE, stateString: `properties: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
    const values: Record<string, PropertyValue> = {};
    for (const [name, value] of Object.entries(parsed.data)) values[name] = await renderPropertyValue(value, ctx.properties);
    ctx.properties.setAll(values, this.name);
    const names = Object.keys(values);
    return { result: Results.SUCCESS, stateString: names.length > 0 ? `set ${names.join(', ')}` : 'no properties set' };
  }
}
