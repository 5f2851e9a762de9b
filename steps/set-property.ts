import { z } from 'zod';
import { Results } from '../core/results.ts';
import { isInterpolate, render, type PropertyReader, type Renderable } from './properties/interpolate.ts';
import type { PropertyValue } from './properties/properties.ts';
import type { StepContext } from './step-context.ts';
import { commonStepShape, Step, type CommonStepOptions, type StepOutcome } from './step.ts';

/** A property's value as a config gives it: JSON, interpolate(...) or a function, also inside lists and records. */
export type RenderableValue = Renderable<PropertyValue> | RenderableValue[] | { [key: string]: RenderableValue };

export const propertyName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'must be a property name');

export const renderableValue: z.ZodType<RenderableValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.custom<Renderable<PropertyValue>>((v) => isInterpolate(v) || typeof v === 'function', 'must be JSON, interpolate(...) or a function'),
    z.array(renderableValue),
    z.record(z.string(), renderableValue),
  ]),
);

/** Renders a value as Buildbot renders a property: renderables inside lists and records too. */
export async function renderPropertyValue(value: RenderableValue, props: PropertyReader): Promise<PropertyValue> {
  if (isInterpolate(value) || typeof value === 'function') return toPropertyValue(await render(value, props));
  if (Array.isArray(value)) return Promise.all(value.map((v) => renderPropertyValue(v, props)));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, PropertyValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await renderPropertyValue(v, props);
    return out;
  }
  return value;
}

/** What a function returned, as a property can hold it (undefined as null; nested renderables rendered by the caller). */
function toPropertyValue(v: unknown): PropertyValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(toPropertyValue);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPropertyValue(x)]));
  throw new TypeError(`a property cannot hold a ${typeof v}`);
}

export interface SetPropertyOptions extends CommonStepOptions {
  property: string;
  value: RenderableValue;
}

/** Sets one build property, without a command (Buildbot's SetProperty); the source is the step's name. */
export class SetProperty extends Step<SetPropertyOptions> {
  readonly schema: z.ZodType = z.strictObject({ ...commonStepShape, property: propertyName, value: renderableValue });

  override providedProperties(): string[] {
    return [this.options.property];
  }

  async run(ctx: StepContext): Promise<StepOutcome> {
    const { property, value } = this.options;
    ctx.properties.set(property, await renderPropertyValue(value, ctx.properties), this.name);
    return { result: Results.SUCCESS, stateString: `set ${property}` };
  }
}
