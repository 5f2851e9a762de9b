/**
 * `POST /hooks/github`: GitHub's push and pull_request webhooks turned into changes, as Buildbot's
 * github change hook. GitHub cannot send our bearer token, so a request proves itself with
 * `X-Hub-Signature-256`, the HMAC-SHA256 of its exact body under the shared secret (compared in
 * constant time). `ping` answers 200; a push of a branch stores one change per distinct commit
 * (commits already pushed to another branch are skipped, as Buildbot does; a push with none, such as
 * a new branch at an existing commit, gives its head commit), all in one transaction; a pull request
 * opened or updated stores one change of its head (master/changes/github-pull-request.ts). Tag
 * pushes, branch deletions, pull request actions not built, other events and deliveries already
 * handled (same `X-GitHub-Delivery`, kept for the last 1000) are answered 200 and ignored, so
 * GitHub's delivery log says why.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { ApiDeps } from './deps.ts';
import type { GithubHookAnswer } from '../../protocol/api-types.ts';
import { checkBodyValue, parseBodyValue } from './params.ts';
import { httpErrorFields } from './error-middleware.ts';
import { assertJsonDepth } from './json-depth.ts';
import {
  BadRequestError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnprocessableError,
  UnsupportedMediaTypeError,
} from '../../core/errors/index.ts';
import { changeInputSchema, type ChangeInput } from '../changes/change.ts';
import { pullRequestChange, pullRequestEvent, type PullRequestHookConfig } from '../changes/github-pull-request.ts';

export interface GithubHookConfig extends PullRequestHookConfig {
  secret: string;
  /** Which of the repository's URLs changes carry as `repository` (match it with the Git step's `repourl`). */
  repositoryUrl: 'clone_url' | 'ssh_url' | 'html_url';
  /** Largest payload accepted (GitHub sends up to 25 MB). */
  maxBodyBytes: number;
}

const MAX_PATH = 1000;
const REMEMBERED_DELIVERIES = 1000;

const commit = z.object({
  id: z.string(),
  message: z.string(),
  timestamp: z.string(),
  author: z.object({ name: z.string(), email: z.string().nullish() }),
  distinct: z.boolean().default(true),
  added: z.array(z.string()).default([]),
  modified: z.array(z.string()).default([]),
  removed: z.array(z.string()).default([]),
});
const pushEvent = z.object({
  ref: z.string(),
  deleted: z.boolean().default(false),
  repository: z.object({ full_name: z.string(), clone_url: z.string(), ssh_url: z.string(), html_url: z.string() }),
  commits: z.array(commit).default([]),
  head_commit: commit.nullable().optional(),
});

/** A commit, checked like a posted change; a problem is named by the commit's place in `commits` and its id. */
function commitChange(index: number, id: string, change: unknown): ChangeInput {
  const checked = checkBodyValue(changeInputSchema, change);
  if (checked.ok) return checked.data;
  const details = checked.issues.map((d) => ({ ...d, path: `commits[${index}].${d.path === 'revision' ? 'id' : d.path}` }));
  throw new UnprocessableError(
    `commit ${JSON.stringify(id.slice(0, 100))}: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
    details,
  );
}

/** True when `signature` (the header's value) is `sha256=` and the HMAC of `body` under `secret`. */
export function validSignature(secret: string, body: Buffer, signature: string | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(signature ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A push of a branch: a change per distinct commit, checked as a posted change is (422 names the field). */
function pushChanges(json: unknown, hook: GithubHookConfig): { changes: ChangeInput[] } | { ignored: string } {
  const push = parseBodyValue(pushEvent, json);
  if (!push.ref.startsWith('refs/heads/')) return { ignored: `${push.ref} is not a branch` };
  if (push.deleted) return { ignored: `${push.ref} was deleted` };
  const branch = push.ref.slice('refs/heads/'.length);
  const distinct = push.commits.filter((c) => c.distinct);
  const commits = distinct.length > 0 ? distinct : push.head_commit ? [push.head_commit] : [];
  // All checked before any is stored; a commit that breaks the rules is named by its place in
  // `commits` and its id.
  const changes = commits.map((c, i) =>
    commitChange(i, c.id, {
      repository: push.repository[hook.repositoryUrl],
      branch,
      revision: c.id,
      author: (c.author.email ? `${c.author.name} <${c.author.email}>` : c.author.name).slice(0, 500),
      comments: c.message.slice(0, 100_000),
      files: [...new Set([...c.added, ...c.modified, ...c.removed])].filter((f) => f.length <= MAX_PATH).slice(0, 10_000),
      project: push.repository.full_name.slice(0, 200),
      category: 'push',
      ...(Number.isNaN(Date.parse(c.timestamp)) ? {} : { when_timestamp: Date.parse(c.timestamp) / 1000 }),
    }),
  );
  return { changes };
}

/** A pull request opened or updated: one change of its head; a problem is named by the payload's field. */
function pullRequestChanges(json: unknown, hook: GithubHookConfig): { changes: ChangeInput[] } | { ignored: string } {
  const made = pullRequestChange(parseBodyValue(pullRequestEvent, json), hook);
  if ('ignored' in made) return made;
  const checked = checkBodyValue(changeInputSchema, made.change);
  if (checked.ok) return { changes: [checked.data] };
  const details = checked.issues.map((d) => ({ ...d, path: d.path === 'revision' ? 'pull_request.head.sha' : d.path }));
  throw new UnprocessableError(details.map((d) => `${d.path}: ${d.message}`).join('; '), details);
}

export function githubHookRouter(deps: ApiDeps, hook: GithubHookConfig): Router {
  const r = Router();
  const handled = new Set<string>(); // delivery ids, oldest first (a Set keeps insertion order)
  const raw = express.raw({ type: () => true, limit: hook.maxBodyBytes });
  // The hook's own limit, named in its own words (the API's 413 names web.maxBodyBytes).
  const body: RequestHandler = (req, res, next) =>
    raw(req, res, (err?: unknown) =>
      next(
        httpErrorFields(err).type === 'entity.too.large'
          ? new PayloadTooLargeError('request body is larger than the limit (web.changeHooks.github.maxBodyBytes)')
          : err,
      ),
    );
  r.post('/hooks/github', body, async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!validSignature(hook.secret, body, req.get('x-hub-signature-256'))) {
      throw new UnauthorizedError('X-Hub-Signature-256 is missing or does not match the body under web.changeHooks.github.secret');
    }
    if (!req.is('application/json')) {
      throw new UnsupportedMediaTypeError("set the webhook's content type to application/json on GitHub");
    }
    const ignore = (why: string) => res.json({ ignored: why } satisfies GithubHookAnswer);
    const event = req.get('x-github-event') ?? '';
    const delivery = req.get('x-github-delivery');
    if (delivery && handled.has(delivery)) return ignore(`delivery ${delivery} was already handled`);
    if (event === 'ping') return res.json({ ok: true } satisfies GithubHookAnswer);
    if (event !== 'push' && event !== 'pull_request') return ignore(`event "${event}" is not handled (only push and pull_request)`);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new BadRequestError(`body is not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    // Measured only now: an unsigned body is refused above without being parsed at all.
    assertJsonDepth(json);
    const found = event === 'push' ? pushChanges(json, hook) : pullRequestChanges(json, hook);
    if ('ignored' in found) return ignore(found.ignored);
    const { changes } = found;
    // Taken before storing, so a redelivery arriving meanwhile is not stored twice; given back on failure.
    if (delivery) {
      handled.add(delivery);
      const oldest = handled.values().next();
      if (handled.size > REMEMBERED_DELIVERIES && !oldest.done) handled.delete(oldest.value);
    }
    let changeids: number[];
    try {
      changeids = await deps.actions.addChanges(changes);
    } catch (e) {
      if (delivery) handled.delete(delivery);
      throw e;
    }
    res.status(201).json({ changeids } satisfies GithubHookAnswer);
  });
  return r;
}
