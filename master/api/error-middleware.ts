/** The one place errors become HTTP: `{"error": {"code", "message", "details"?}}`, never a stack trace. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { CaliperError } from '../../core/errors/index.ts';
import type { Logger } from '../../core/logger.ts';

const STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  STORE_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
};

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'NOT_FOUND', message: `no such endpoint: ${req.method} ${req.path}` } });
};

export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    void _next;
    if (err instanceof CaliperError) {
      const body: Record<string, unknown> = { code: err.code, message: err.message };
      if (err.details !== undefined) body.details = err.details;
      res.status(STATUS[err.code] ?? 400).json({ error: body });
      return;
    }
    // body-parser's own errors carry a `type` and a status.
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      res.status(400).json({ error: { code: 'BAD_REQUEST', message: 'request body is not valid JSON' } });
      return;
    }
    if (e.type === 'entity.too.large') {
      res.status(413).json({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body is larger than the limit (web.maxBodyBytes)' } });
      return;
    }
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      res.status(e.status).json({ error: { code: 'BAD_REQUEST', message: e.message ?? 'bad request' } });
      return;
    }
    log.error('API request failed', {
      method: req.method,
      path: req.path,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    res.status(500).json({ error: { code: 'INTERNAL', message: 'internal error; see the master log' } });
  };
}
