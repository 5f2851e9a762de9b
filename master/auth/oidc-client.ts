/**
 * OpenID Connect login with openid-client: the authorization code flow with PKCE, state and
 * nonce. The provider's metadata is discovered at the first login (and again after a failure), so a
 * provider that is down at start-up does not stop the master.
 */
import * as client from 'openid-client';
import type { OidcConfig } from './auth-config.ts';

/** What must survive the round trip through the provider: kept in a short signed cookie. */
export interface OidcFlow {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
}

export interface OidcUser {
  username: string;
  roles: string[];
}

export class OidcClient {
  private discovered: Promise<client.Configuration> | null = null;

  constructor(private readonly config: OidcConfig) {}

  get displayName(): string {
    return this.config.name ?? new URL(this.config.issuer).host;
  }

  redirectUri(requestOrigin: string): string {
    return this.config.redirectUrl ?? `${requestOrigin}/auth/oidc/callback`;
  }

  async start(redirectUri: string): Promise<{ url: URL; flow: OidcFlow }> {
    const configuration = await this.configuration();
    const flow: OidcFlow = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
      redirectUri,
    };
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: this.config.scopes.join(' '),
      state: flow.state,
      nonce: flow.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
    });
    return { url, flow };
  }

  /** Exchanges the code in the callback's query; throws when the provider or any check says no. */
  async finish(query: string, flow: OidcFlow): Promise<OidcUser> {
    const configuration = await this.configuration();
    const current = new URL(flow.redirectUri);
    current.search = query;
    const tokens = await client.authorizationCodeGrant(configuration, current, {
      pkceCodeVerifier: flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims();
    if (!idClaims) throw new Error('the provider sent no ID token');
    let claims: Record<string, unknown> = idClaims;
    const wanted = [this.config.usernameClaim, this.config.rolesClaim].filter((c) => c !== undefined);
    // Providers often put groups only in the userinfo answer, not in the ID token.
    if (wanted.some((c) => claims[c] === undefined)) {
      const info = await client.fetchUserInfo(configuration, tokens.access_token, idClaims.sub);
      claims = { ...info, ...idClaims };
    }
    const name = claims[this.config.usernameClaim] ?? claims.email ?? idClaims.sub;
    return { username: typeof name === 'string' && name !== '' ? name : idClaims.sub, roles: rolesOf(claims, this.config.rolesClaim) };
  }

  private configuration(): Promise<client.Configuration> {
    if (!this.discovered) {
      const issuer = new URL(this.config.issuer);
      // Plain http is accepted by the config only on loopback (a provider run by a test).
      const execute = issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [];
      this.discovered = client
        .discovery(issuer, this.config.clientId, undefined, client.ClientSecretBasic(this.config.clientSecret), { execute })
        .catch((e: unknown) => {
          this.discovered = null;
          throw e;
        });
    }
    return this.discovered;
  }
}

function rolesOf(claims: Record<string, unknown>, claim: string | undefined): string[] {
  if (claim === undefined) return [];
  const value = claims[claim];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}
