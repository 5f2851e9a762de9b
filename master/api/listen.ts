/**
 * Starts the HTTP server listening. A port already taken (another master, most likely) is a clear
 * error that says how to choose another, not a raw EADDRINUSE stack.
 */
import type http from 'node:http';
import { PortInUseError } from '../../core/errors/index.ts';

export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES') return reject(e);
      const why = e.code === 'EADDRINUSE' ? 'is taken (another Caliper master, or another program?)' : 'may not be used by this user';
      reject(
        new PortInUseError(`port ${port} on ${host} ${why}; stop it, or choose another port with --port N or web.port in master.config.ts`),
      );
    });
    server.listen(port, host, () => {
      const address = server.address();
      resolve(address !== null && typeof address === 'object' ? address.port : port);
    });
  });
}
