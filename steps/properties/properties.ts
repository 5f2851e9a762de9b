import { z } from 'zod';
import type { PropertyReader, WorkerInfo } from './interpolate.ts';
import { parseJson } from '../../core/parse-json.ts';

export type PropertyValue = string | number | boolean | null | PropertyValue[] | { [key: string]: PropertyValue };
/** Buildbot's shape: name -> [value, source]. */
export type PropertyMap = Record<string, [PropertyValue, string]>;

/** A JSON value: what a property can hold (in the config, in a request, in a build). */
export const propertyValueSchema: z.ZodType<PropertyValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(propertyValueSchema), z.record(z.string(), propertyValueSchema)]),
);
const propertyValues = z.record(z.string(), propertyValueSchema);
const propertyMap = z.record(z.string(), z.tuple([propertyValueSchema, z.string()]));

/** A build's stored properties (`builds.properties`, what `Properties.toJSON()` wrote). */
export function parsePropertyMap(json: string, what: string): PropertyMap {
  return parseJson(json, propertyMap, what);
}

/** A build request's stored properties (`buildrequests.properties`): name -> value. */
export function parsePropertyValues(json: string, what: string): Record<string, PropertyValue> {
  return parseJson(json, propertyValues, what);
}

/**
 * Where a build's `%(secret:NAME)s` values come from: the configured secrets, or a lookup, which may
 * refuse by throwing (a build of a pull request from a fork gets no secrets).
 */
export type SecretSource = Readonly<Record<string, string>> | ((name: string) => string | undefined);

/** A build's properties: set by the builder, the scheduler (force), the master, and steps. */
export class Properties implements PropertyReader {
  private readonly values = new Map<string, [PropertyValue, string]>();

  constructor(
    initial: PropertyMap = {},
    private readonly secrets: SecretSource = {},
    /** The build's agent, for %(worker:...)s. */
    private readonly workerInfo?: WorkerInfo,
  ) {
    for (const [name, entry] of Object.entries(initial)) this.values.set(name, entry);
  }

  secret(name: string): string | undefined {
    if (typeof this.secrets === 'function') return this.secrets(name);
    return Object.hasOwn(this.secrets, name) ? this.secrets[name] : undefined;
  }

  worker(): WorkerInfo | undefined {
    return this.workerInfo;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  get(name: string): PropertyValue | undefined {
    return this.values.get(name)?.[0];
  }

  set(name: string, value: PropertyValue, source: string): void {
    this.values.set(name, [value, source]);
  }

  setAll(values: Record<string, PropertyValue>, source: string): void {
    for (const [name, value] of Object.entries(values)) this.set(name, value, source);
  }

  toJSON(): PropertyMap {
    return Object.fromEntries(this.values);
  }
}
