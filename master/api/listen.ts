/**
 * Starts the HTTP server listening. A port already taken (another master, most likely) is a clear
 * error that says how to choose another, not a raw EADDRINUSE stack.
 */
import type http from 'node:http';
import { PortInUseError } from '../../core/errors/index.ts';

/** Pending connections the kernel holds for us (capped by net.core.somaxconn, 4096 on current Linux). */
const LISTEN_BACKLOG = 65_535;

export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES') return reject(e);
      const why = e.code === 'EADDRINUSE' ? 'is taken (another Caliper master, or another program?)' : 'may not be used by this user';
      reject(
        new PortInUseError(`port ${port} on ${host} ${why}; stop it, or choose another port with --port N or web.port in master.config.ts`),
      );
    });
    // A deep accept queue: thousands of agents reconnecting at once (a master restart) must wait
    // their turn, not be reset (Node's default of 511 dropped hundreds of 10 000).
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      const address = server.address();
      resolve(address !== null && typeof address === 'object' ? address.port : port);
    });
  });
}
