/**
 * Renderables made from functions (Buildbot's @util.renderer and util.Transform). Both are
 * functions of the properties, so they go wherever a renderable is accepted.
 */
import { render, type Interpolate, type PropertyReader, type Renderable } from './interpolate.ts';

const TRANSFORMED = Symbol.for('caliper.transformed');

export type PropertyFunction<T> = (props: PropertyReader) => T | Promise<T>;

/** A renderable whose value `fn` computes from the build's properties when the step runs. */
export function renderer<T>(fn: PropertyFunction<T>): PropertyFunction<T> {
  return fn;
}

type Transformed<U> = PropertyFunction<U> & { readonly [TRANSFORMED]: unknown };

/** `fn` applied to what `value` renders to, e.g. transform(interpolate('%(prop:branch)s'), (b) => b.toUpperCase()). */
export function transform<U>(value: Interpolate, fn: (rendered: string) => U | Promise<U>): Transformed<U>;
export function transform<T, U>(value: PropertyFunction<T> | T, fn: (rendered: T) => U | Promise<U>): Transformed<U>;
export function transform<T, U>(value: Renderable<T>, fn: (rendered: T | string) => U | Promise<U>): Transformed<U> {
  // The wrapped value stays reachable, so the config check finds a bad interpolate() inside.
  return Object.assign(async (props: PropertyReader) => fn(await render(value, props)), { [TRANSFORMED]: value });
}

/** The renderable a transform() wraps, or undefined for anything else. */
export function transformed(value: unknown): unknown {
  return typeof value === 'function' && TRANSFORMED in value ? value[TRANSFORMED] : undefined;
}
