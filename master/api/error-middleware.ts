/** The one place errors become HTTP: `{"error": {"code", "message", "details"?}}`, never a stack trace. */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { ErrorAnswer } from '../../protocol/api-types.ts';
import { CaliperError } from '../../core/errors/index.ts';
import type { Logger } from '../../core/logger.ts';

const STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  STORE_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  // A state machine asked for a transition it cannot make: a fault of ours, not of the request.
  INVALID_STATE: 500,
};

/** What body-parser's errors carry besides a message: a `type` (`entity.too.large`) and an HTTP status. */
export interface HttpErrorFields {
  type: string | undefined;
  status: number | undefined;
  message: string | undefined;
}

/** Reads those fields off anything thrown, without trusting its shape. */
export function httpErrorFields(err: unknown): HttpErrorFields {
  if (typeof err !== 'object' || err === null) return { type: undefined, status: undefined, message: undefined };
  return {
    type: 'type' in err && typeof err.type === 'string' ? err.type : undefined,
    status: 'status' in err && typeof err.status === 'number' ? err.status : undefined,
    message: 'message' in err && typeof err.message === 'string' ? err.message : undefined,
  };
}

function sendError(res: Response, status: number, error: ErrorAnswer['error']): void {
  res.status(status).json({ error } satisfies ErrorAnswer);
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendError(res, 404, { code: 'NOT_FOUND', message: `no such endpoint: ${req.method} ${req.path}` });
};

export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    void _next;
    if (err instanceof CaliperError) {
      const error: ErrorAnswer['error'] = { code: err.code, message: err.message };
      if (err.details !== undefined) error.details = err.details;
      sendError(res, STATUS[err.code] ?? 400, error);
      return;
    }
    const e = httpErrorFields(err);
    if (e.type === 'entity.parse.failed') return sendError(res, 400, { code: 'BAD_REQUEST', message: 'request body is not valid JSON' });
    if (e.type === 'entity.too.large')
      return sendError(res, 413, { code: 'PAYLOAD_TOO_LARGE', message: 'request body is larger than the limit (web.maxBodyBytes)' });
    if (e.status !== undefined && e.status >= 400 && e.status < 500)
      return sendError(res, e.status, { code: 'BAD_REQUEST', message: e.message ?? 'bad request' });
    log.error('API request failed', {
      method: req.method,
      path: req.path,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    sendError(res, 500, { code: 'INTERNAL', message: 'internal error; see the master log' });
  };
}
