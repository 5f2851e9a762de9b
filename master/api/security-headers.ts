/**
 * The security headers every answer carries (Content-Security-Policy, X-Frame-Options, …), set by one
 * middleware from a list made once. helmet stays the source of the headers and their values: its
 * middleware is run once, at start, against a response that only records what is set. Run on every
 * request, helmet walks a dozen small middlewares of its own (one per header, each computing its
 * value again); here a request costs one router layer and one `setHeader` per header. Only a helmet
 * configuration whose values cannot depend on the request may be recorded: no CSP directive may be a
 * function (nonces), which `recordHeaders` refuses.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';

/** A header as helmet set it: name (helmet's spelling) and value. */
export type HeaderList = readonly (readonly [string, string])[];

/** helmet's middleware: on a response it sets headers, removes `X-Powered-By`, calls next. */
type HelmetMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** The parts of a response helmet uses. */
type HeaderRecorder = Pick<ServerResponse, 'setHeader' | 'removeHeader'>;

/** The headers `middleware` sets on an answer, in order; a failure, or one left unfinished, throws. */
export function recordHeaders(middleware: HelmetMiddleware): HeaderList {
  const headers: [string, string][] = [];
  const recorder: HeaderRecorder = {
    setHeader(name, value) {
      if (typeof value !== 'string') throw new Error(`security headers: ${name} is not a fixed text`);
      headers.push([name, value]);
      return this as ServerResponse;
    },
    // helmet removes X-Powered-By; express's own is disabled in app.ts.
    removeHeader: () => undefined,
  };
  let done = false;
  // A request nothing can be read from: a value that depends on the request fails here, at start.
  const request = new Proxy({} as IncomingMessage, {
    get: (_t, key) => {
      throw new Error(`security headers: a header's value reads the request (${String(key)}); it cannot be made once`);
    },
  });
  // Only setHeader and removeHeader are there to use: anything else helmet did would fail loudly.
  middleware(request, recorder as ServerResponse, (err) => {
    if (err !== undefined) throw err instanceof Error ? err : new Error(String(err));
    done = true;
  });
  if (!done) throw new Error('security headers: the middleware did not finish at once');
  return headers;
}

/** Sets `headers` on every answer. */
export function securityHeaders(headers: HeaderList): RequestHandler {
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}
