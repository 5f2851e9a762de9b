/**
 * The master's one HTTP server: the API and UI (express), and two WebSocket endpoints on upgrade,
 * `/agents` for agents and `/ws` for live updates. Anything else asking to upgrade is dropped.
 */
import http, { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import type { Duplex } from 'node:stream';
import { listen } from './listen.ts';

export interface UpgradeHandler {
  /** Takes the upgrade if the path is its own; false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
}

export interface WebServer {
  readonly port: number;
  /** Drops every open connection and stops listening. */
  close(): Promise<void>;
}

/**
 * The classes the server makes each request and response with: Node's own, with `app`'s request and
 * response prototypes (express's `req.query`, `res.send`, …) as theirs from the start. Express gives
 * every request those prototypes with `Object.setPrototypeOf` as it enters the app; on an object Node
 * has just made that costs far more than the call (V8 moves the object to a new hidden class and the
 * HTTP code's inline caches that saw it go megamorphic): 40–60 µs of CPU per request on this
 * machine, a third of what a page of `GET /api/v2/builds` cost. Made with the prototype it will be
 * given, express's call changes nothing. Node's constructors are functions called on `this`; should
 * one become a class (which cannot be called so), Node's own classes are used, as before.
 */
export function expressClasses(app: Express): { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse } {
  const isClass = (f: unknown) => /^class\b/.test(Function.prototype.toString.call(f));
  if (isClass(IncomingMessage) || isClass(ServerResponse)) return { IncomingMessage, ServerResponse };
  function AppRequest(this: IncomingMessage, socket: Socket) {
    IncomingMessage.call(this, socket);
  }
  AppRequest.prototype = app.request;
  // Node passes the response its options too (highWaterMark, …), which @types/node does not declare.
  const initResponse = ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, options?: object) => void;
  function AppResponse(this: ServerResponse, req: IncomingMessage, options?: object) {
    initResponse.call(this, req, options);
  }
  AppResponse.prototype = app.response;
  // Functions with a prototype are what `new` takes; TypeScript knows only classes as constructors.
  return {
    IncomingMessage: AppRequest as unknown as typeof IncomingMessage,
    ServerResponse: AppResponse as unknown as typeof ServerResponse,
  };
}

export async function startWebServer(app: Express, upgrades: UpgradeHandler[], port: number, host: string): Promise<WebServer> {
  const server = http.createServer(expressClasses(app), app);
  server.on('upgrade', (req, socket, head) => {
    if (!upgrades.some((u) => u.handleUpgrade(req, socket, head))) socket.destroy();
  });
  const bound = await listen(server, port, host);
  return {
    port: bound,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
