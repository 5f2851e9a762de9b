import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares tokens in constant time (hashing first so lengths never leak through timing). */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
