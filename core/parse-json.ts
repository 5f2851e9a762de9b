/**
 * JSON read back from outside the process (a stored column, another program's output), checked
 * against the shape it must have: a mismatch fails here, naming what was read, instead of surfacing
 * later as an `undefined` deep inside. Not a CaliperError: bad stored data is a fault of ours (a 500),
 * not of the request that reads it.
 */
import type { z } from 'zod';
import { describeIssues } from './zod-issue.ts';
import { errorMessage } from './error-message.ts';

export class InvalidJsonError extends Error {
  override readonly name = 'InvalidJsonError';
}

/** `text` parsed and checked by `schema`; `what` names it in the error ("build 12's properties"). */
export function parseJson<T>(text: string, schema: z.ZodType<T>, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new InvalidJsonError(`${what} is not JSON: ${errorMessage(e)}`);
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = describeIssues(parsed.error).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  throw new InvalidJsonError(`${what} does not have the expected shape: ${issues.join('; ')}`);
}
