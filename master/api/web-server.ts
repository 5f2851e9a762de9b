/**
 * The master's one HTTP server: the API and UI (express), and two WebSocket endpoints on upgrade,
 * `/agents` for agents and `/ws` for live updates. Anything else asking to upgrade is dropped.
 */
import http from 'node:http';
import type { Express } from 'express';
import type { IncomingMessage } from 'node:http';
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

export async function startWebServer(app: Express, upgrades: UpgradeHandler[], port: number, host: string): Promise<WebServer> {
  const server = http.createServer(app);
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
