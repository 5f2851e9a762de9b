import { z } from 'zod';
import { isInterpolate } from './interpolate.ts';

/** A string, an `interpolate(...)`, or a function of the properties. */
export const renderableString = z.union([
  z.string(),
  z.custom((v) => isInterpolate(v) || typeof v === 'function', 'must be a string, interpolate(...) or a function'),
]);
