/**
 * Read protection for `/ws` (live updates): with web.auth.readProtected, the upgrade needs a
 * session cookie or a token, and a cookie counts only from this master's own origin (a foreign
 * page must not read live data with the user's cookie: cross-site WebSocket hijacking).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { UpgradeHandler } from '../api/web-server.ts';
import type { WebAuthConfig } from './auth-config.ts';
import { identify } from './principal.ts';
import { sameOrigin } from './same-origin.ts';

export function guardUpgrade(auth: WebAuthConfig | undefined, inner: UpgradeHandler, path = '/ws'): UpgradeHandler {
  if (!auth?.readProtected) return inner;
  return {
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
      if ((req.url ?? '').split('?')[0] !== path) return false;
      const who = identify(auth, req, Date.now());
      const allowed = who.kind === 'machine' || (who.kind === 'user' && sameOrigin(req));
      if (allowed) return inner.handleUpgrade(req, socket, head);
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return true;
    },
  };
}
