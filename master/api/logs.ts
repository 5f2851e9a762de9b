import { Router } from 'express';
import type { ApiDeps } from './deps.ts';
import type { LogRow } from '../db/entities.ts';
import { fieldsOf, found, idParam, selectFields } from './params.ts';
import { BadRequestError } from '../../core/errors/index.ts';

export function serializeLog(l: LogRow) {
  return {
    logid: l.id,
    stepid: l.stepid,
    name: l.name,
    slug: l.slug,
    type: l.type,
    num_lines: l.num_lines,
    num_bytes: l.num_bytes,
    complete: l.complete,
  };
}

export function logsRouter(deps: ApiDeps): Router {
  const r = Router();
  r.get('/steps/:id/logs', async (req, res) => {
    const stepid = idParam(req.params.id as string, 'step id');
    found(await deps.repos.steps.get(stepid), `step ${stepid}`);
    const { rows, total } = await deps.repos.logs.query(req.query, { stepid });
    res.json({ logs: selectFields(rows.map(serializeLog), fieldsOf(req.query)), meta: { total } });
  });
  r.get('/logs/:id', async (req, res) => {
    const log = found(await deps.repos.logs.get(idParam(req.params.id as string, 'log id')), `log ${req.params.id as string}`);
    res.json({ logs: [serializeLog(log)], meta: { total: 1 } });
  });
  /** Lines of a log, a page at a time (Buildbot's logchunks shape), decoded as UTF-8 for display. */
  r.get('/logs/:id/contents', async (req, res) => {
    const log = found(await deps.repos.logs.get(idParam(req.params.id as string, 'log id')), `log ${req.params.id as string}`);
    const num = (name: string, def: number, max: number) => {
      const v = req.query[name];
      if (v === undefined) return def;
      if (typeof v !== 'string' || !/^\d{1,9}$/.test(v) || Number(v) > max)
        throw new BadRequestError(`${name} must be an integer from 0 to ${max}`);
      return Number(v);
    };
    const offset = num('offset', 0, 1e9);
    const { lines, total } = await deps.repos.logs.lines(log, offset, num('limit', 1000, 10_000));
    res.json({
      logchunks: lines.length > 0 ? [{ logid: log.id, firstline: offset, content: lines.map((l) => l.toString('utf8')).join('\n') }] : [],
      meta: { total },
    });
  });

  /** The log's bytes exactly as the command wrote them, streamed a page of chunks at a time. */
  r.get('/logs/:id/raw', async (req, res) => {
    const log = found(await deps.repos.logs.get(idParam(req.params.id as string, 'log id')), `log ${req.params.id as string}`);
    res.status(200);
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Disposition', `inline; filename="${log.slug}.txt"`);
    for await (const chunk of deps.repos.logs.readChunks(log.id)) {
      if (!res.write(chunk.content)) await new Promise((resolve) => res.once('drain', resolve));
    }
    res.end();
  });
  return r;
}
