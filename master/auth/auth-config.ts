/**
 * The `web.auth` part of the config: machine tokens, users with password hashes, OpenID Connect,
 * the session secret, allowRules (who may force, stop, rebuild, cancel on which builders) and read
 * protection. Checked here so every mistake is reported with its path at start-up.
 */
import { z } from 'zod';
import { parsePasswordHash } from './password-hash.ts';

/** What a rule can allow; `any` covers every write, as Buildbot's AnyControlEndpointMatcher. */
export const ACTIONS = ['force', 'stop', 'rebuild', 'cancel'] as const;
export type Action = (typeof ACTIONS)[number];
export type RuleAction = Action | 'any';

const role = z.string().min(1).max(100);

const userSchema = z.strictObject({
  username: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[^\s:]+$/, 'must not contain spaces or ":"'),
  passwordHash: z.string().refine((s) => parsePasswordHash(s) !== null, {
    message: 'must be a hash printed by `caliper hash-password` (scrypt$N$r$p$salt$hash), never a password',
  }),
  roles: z.array(role).default([]),
});

const oidcSchema = z.strictObject({
  /** The provider's issuer URL (discovery at `<issuer>/.well-known/openid-configuration`). */
  issuer: z.url().refine(httpsOrLoopback, { message: 'must be https (plain http only on 127.0.0.1 or localhost, for tests)' }),
  clientId: z.string().min(1),
  /** Read it from the environment. */
  clientSecret: z.string().min(1),
  scopes: z.array(z.string().min(1)).default(['openid', 'profile', 'email']),
  /** The claim holding the user's roles, e.g. `groups`; without it users get no roles. */
  rolesClaim: z.string().min(1).optional(),
  /** The claim shown as the user's name. */
  usernameClaim: z.string().min(1).default('preferred_username'),
  /** This master's callback as registered at the provider; default: derived from the request's Host. */
  redirectUrl: z.url().optional(),
  /** Shown on the login button: "Log in with <name>". */
  name: z.string().min(1).max(100).optional(),
});

const ruleSchema = z.strictObject({
  action: z.enum([...ACTIONS, 'any']),
  /** A glob on the builder's name (`*` any run, `?` one character); none: every builder. */
  builder: z.string().min(1).optional(),
  roles: z.array(role).min(1),
});

export const webAuthSchema = z
  .strictObject({
    /** Tokens for machines: `Authorization: Bearer <token>` may do every write. */
    tokens: z.array(z.string().min(16)).min(1).optional(),
    users: z.array(userSchema).min(1).optional(),
    oidc: oidcSchema.optional(),
    /** Signs session cookies (read it from the environment); changing it logs everyone out. */
    sessionSecret: z.string().min(32, 'must be at least 32 characters (read it from the environment)').optional(),
    sessionMaxAgeHours: z
      .number()
      .positive()
      .max(24 * 90)
      .default(24),
    /** First rule matching the action and builder decides; no matching rule: any logged-in user may. */
    allowRules: z.array(ruleSchema).default([]),
    /** Every read of the API and /ws needs a session or a token too. */
    readProtected: z.boolean().default(false),
  })
  .superRefine((auth, ctx) => {
    if (!auth.tokens && !auth.users && !auth.oidc)
      ctx.addIssue({ code: 'custom', message: 'set at least one of tokens, users or oidc', path: [] });
    if ((auth.users || auth.oidc) && auth.sessionSecret === undefined)
      ctx.addIssue({ code: 'custom', message: 'required when users or oidc are set (signs session cookies)', path: ['sessionSecret'] });
    const seen = new Set<string>();
    auth.users?.forEach((u, i) => {
      if (seen.has(u.username))
        ctx.addIssue({ code: 'custom', message: `duplicate username "${u.username}"`, path: ['users', i, 'username'] });
      seen.add(u.username);
    });
  });

export type WebAuthConfig = z.output<typeof webAuthSchema>;
export type AllowRule = WebAuthConfig['allowRules'][number];
export type OidcConfig = NonNullable<WebAuthConfig['oidc']>;

function httpsOrLoopback(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'https:' || (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname));
}
