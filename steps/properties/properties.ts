import type { PropertyReader } from './interpolate.ts';

export type PropertyValue = string | number | boolean | null | PropertyValue[] | { [key: string]: PropertyValue };
/** Buildbot's shape: name -> [value, source]. */
export type PropertyMap = Record<string, [PropertyValue, string]>;

/** A build's properties: set by the builder, the scheduler (force), the master, and steps. */
export class Properties implements PropertyReader {
  private readonly values = new Map<string, [PropertyValue, string]>();

  constructor(
    initial: PropertyMap = {},
    private readonly secrets: Record<string, string> = {},
  ) {
    for (const [name, entry] of Object.entries(initial)) this.values.set(name, entry);
  }

  secret(name: string): string | undefined {
    return Object.hasOwn(this.secrets, name) ? this.secrets[name] : undefined;
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
