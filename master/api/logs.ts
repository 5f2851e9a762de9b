import { Router } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps.ts';
import type { LogRow } from '../db/entities.ts';
import type { Log } from '../../protocol/api-types.ts';
import { bound, fieldsOf, found, idPath, parseParams, parseQuery } from './params.ts';
import { sendPage } from './respond.ts';
import { NotFoundError } from '../../core/errors/index.ts';

/** What a log whose contents the retention janitor removed shows instead of them (the UI's one line). */
export function expiredNotice(log: LogRow): string {
  return `[caliper] log removed by retention on ${new Date(log.expired_at ?? 0).toISOString()} (retention.logs in the master's config)`;
}

export function presentLog(l: LogRow): Log {
  return {
    logid: l.id,
    stepid: l.stepid,
    name: l.name,
    slug: l.slug,
    type: l.type,
    num_lines: l.num_lines,
    num_bytes: l.num_bytes,
    complete: l.complete,
    expired_at: l.expired_at,
  };
}

const stepPath = idPath('step id');
const logPath = idPath('log id');
/** A page of a log's lines; other parameters are ignored. */
const linesQuery = z.object({ offset: bound('offset', 1e9).default(0), limit: bound('limit', 10_000).default(1000) });

export function logsRouter(deps: ApiDeps): Router {
  const r = Router();
  const findLog = async (params: { params: unknown }) => {
    const { id } = parseParams(params, logPath);
    return found(await deps.repos.logs.get(id), `log ${id}`);
  };
  r.get('/steps/:id/logs', async (req, res) => {
    const { id: stepid } = parseParams(req, stepPath);
    found(await deps.repos.steps.get(stepid), `step ${stepid}`);
    const { rows, total } = await deps.repos.logs.query(req.query, { stepid });
    sendPage(res, 'logs', rows.map(presentLog), total, fieldsOf(req.query));
  });
  r.get('/logs/:id', async (req, res) => {
    sendPage(res, 'logs', [presentLog(await findLog(req))], 1);
  });
  /** Lines of a log, a page at a time (Buildbot's logchunks shape), decoded as UTF-8 for display. */
  r.get('/logs/:id/contents', async (req, res) => {
    const log = await findLog(req);
    const { offset, limit } = parseQuery(req, linesQuery);
    if (log.expired_at !== null) {
      const page = offset === 0 && limit > 0 ? [{ logid: log.id, firstline: 0, content: expiredNotice(log) }] : [];
      return sendPage(res, 'logchunks', page, 1);
    }
    const { lines, total } = await deps.repos.logs.lines(log, offset, limit);
    const content = lines.map((l) => l.toString('utf8')).join('\n');
    sendPage(res, 'logchunks', lines.length > 0 ? [{ logid: log.id, firstline: offset, content }] : [], total);
  });

  /** The log's bytes exactly as the command wrote them, streamed a page of chunks at a time. */
  r.get('/logs/:id/raw', async (req, res) => {
    const log = await findLog(req);
    // Its bytes are gone: serving the notice as if it were them would pass it off as the command's output.
    if (log.expired_at !== null) throw new NotFoundError(`the contents of log ${log.id}: ${expiredNotice(log).replace('[caliper] ', '')}`);
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
