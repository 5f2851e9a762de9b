/**
 * Password hashes with node's built-in scrypt (no native dependency), stored as
 * `scrypt$N$r$p$<salt base64url>$<hash base64url>` so the cost can rise without breaking old hashes.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** About 100 ms and 32 MiB per check on a laptop: slow for a guesser, fine for a login. */
const DEFAULT = { N: 2 ** 15, r: 8, p: 1 };
const KEY_BYTES = 32;

export interface PasswordHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

export function parsePasswordHash(text: string): PasswordHash | null {
  const m = /^scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{32,})$/.exec(text);
  if (!m) return null;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // N a power of two within what a login can afford; anything else is a typo, not a hash.
  if (N < 2 ** 10 || N > 2 ** 20 || (N & (N - 1)) !== 0 || r < 1 || p < 1) return null;
  return { N, r, p, salt: Buffer.from(m[4] ?? '', 'base64url'), hash: Buffer.from(m[5] ?? '', 'base64url') };
}

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }, length: number): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, length, options, (e, key) => (e ? reject(e) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, DEFAULT, KEY_BYTES);
  return `scrypt$${DEFAULT.N}$${DEFAULT.r}$${DEFAULT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const key = await derive(password, stored.salt, stored, stored.hash.length);
  return timingSafeEqual(key, stored.hash);
}

/** Checked for unknown users, so an unknown name costs as long as a wrong password. */
export const DECOY_HASH: PasswordHash = { ...DEFAULT, salt: Buffer.alloc(16, 1), hash: Buffer.alloc(KEY_BYTES, 2) };
