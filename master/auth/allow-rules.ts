/**
 * Buildbot's allowRules, reduced to what Caliper controls: the first rule whose action and builder
 * match decides (allowed when the user has one of its roles, forbidden otherwise); when no rule
 * matches, any logged-in user may (Buildbot's default too).
 */
import type { Action, AllowRule } from './auth-config.ts';

/** `other`: a write with no builder of its own (POST /changes), matched only by `any` rules without a builder. */
export type WriteAction = Action | 'other';

export type Decision = { allowed: true } | { allowed: false; needs: string[] };

export function decide(rules: readonly AllowRule[], action: WriteAction, builder: string | null, roles: readonly string[]): Decision {
  for (const rule of rules) {
    if (rule.action !== 'any' && rule.action !== action) continue;
    if (rule.builder !== undefined && (builder === null || !globMatches(rule.builder, builder))) continue;
    if (rule.roles.some((r) => roles.includes(r))) return { allowed: true };
    return { allowed: false, needs: rule.roles };
  }
  return { allowed: true };
}

/** `*` any run of characters, `?` one; everything else literal. */
export function globMatches(glob: string, name: string): boolean {
  const source = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(name);
}
