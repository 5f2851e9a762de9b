/**
 * Users and roles for the web, composed from web.auth: the /auth router, the guard in front of
 * /api/v2, and the /ws guard. Without web.auth nothing is mounted and the API stays open (the
 * Origin check on writes in app.ts still applies).
 */
import type { RequestHandler, Router } from 'express';
import type { Logger } from '../../core/logger.ts';
import type { Repositories } from '../db/repositories.ts';
import type { WebAuthConfig } from './auth-config.ts';
import { apiGuard, type BuilderLookup } from './authz.ts';
import { authRouter, sessionInfo, type SessionInfo } from './auth-router.ts';

export interface WebAuth {
  /** Mount at /auth. */
  router: Router;
  /** Mount in front of every /api/v2 route. */
  guard: RequestHandler;
  /** Login methods and the request's user, also embedded in the UI's index.html. */
  session: SessionInfo;
}

export interface WebAuthDeps {
  repos: Pick<Repositories, 'builds' | 'buildRequests' | 'builders'>;
  builders: { id: number; config: { name: string } }[];
  log: Logger;
}

export function createWebAuth(auth: WebAuthConfig, deps: WebAuthDeps): WebAuth {
  const nameOf = async (builderid: number) =>
    deps.builders.find((b) => b.id === builderid)?.config.name ?? (await deps.repos.builders.get(builderid))?.name ?? null;
  const lookup: BuilderLookup = {
    builderByKey: (key) =>
      (/^\d+$/.test(key) ? deps.builders.find((b) => b.id === Number(key)) : deps.builders.find((b) => b.config.name === key))?.config
        .name ?? null,
    builderOfBuild: async (id) => {
      const build = await deps.repos.builds.get(id);
      return build ? nameOf(build.builderid) : null;
    },
    builderOfRequest: async (id) => {
      const request = await deps.repos.buildRequests.get(id);
      return request ? nameOf(request.builderid) : null;
    },
  };
  const session = sessionInfo(auth, () => deps.builders.map((b) => b.config.name));
  return {
    router: authRouter(auth, session, deps.log),
    guard: apiGuard(auth, lookup),
    session,
  };
}
