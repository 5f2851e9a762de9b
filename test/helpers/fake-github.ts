/**
 * A local GitHub for the GitHub reporters: every request is checked against GitHub's published
 * OpenAPI description (@octokit/openapi's api.github.com.json: method, path template, path and query
 * parameters, the JSON body against the operation's requestBody schema) and recorded. It answers the
 * commit status and issue comment operations as GitHub does, keeping statuses and comments, and can
 * be told to answer the next requests with a rate limit (403, `x-ratelimit-remaining: 0`, a reset a
 * moment ahead), a 502 or a 401 — each echoing the request's token in its message, so a test can
 * check that the token never reaches a log.
 */
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { isRecord } from '../../core/is-record.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { [k: string]: any };

interface Operation {
  method: string;
  template: string;
  regex: RegExp;
  names: string[];
  literalSegments: number;
  op: Schema;
}

let spec: Schema | null = null;
/** GitHub's description, parsed once per test file (13 MB). */
function openapi(): Schema {
  if (spec) return spec;
  const file = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
  const parsed: Schema = JSON.parse(fs.readFileSync(file, 'utf8'));
  spec = parsed;
  return parsed;
}

let operations: Operation[] | null = null;
function allOperations(): Operation[] {
  if (operations) return operations;
  operations = [];
  for (const [template, item] of Object.entries<Schema>(openapi().paths)) {
    const names: string[] = [];
    const source = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_m, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    const regex = new RegExp(`^${source}$`);
    const literalSegments = template.split('/').filter((s) => s && !s.startsWith('{')).length;
    for (const [method, op] of Object.entries<Schema>(item)) {
      if (method === 'parameters' || method === 'summary' || method === 'description') continue;
      operations.push({ method: method.toUpperCase(), template, regex, names, literalSegments, op });
    }
  }
  return operations;
}

function resolve(schema: Schema): Schema {
  let s = schema;
  for (let i = 0; s && typeof s.$ref === 'string' && i < 20; i++) {
    const path = String(s.$ref).replace(/^#\//, '').split('/');
    s = path.reduce<Schema>((node, key) => node[key.replace(/~1/g, '/').replace(/~0/g, '~')], openapi());
  }
  return s;
}

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;

/**
 * The JSON-schema subset GitHub's description uses: $ref, type (one or several), nullable, enum,
 * required, properties, additionalProperties, items, oneOf/anyOf/allOf, string and number bounds.
 * Returns what is wrong, empty when nothing is.
 */
export function validate(value: unknown, raw: Schema, at = 'body'): string[] {
  const schema = resolve(raw);
  if (!schema || Object.keys(schema).length === 0) return [];
  if (value === null && schema.nullable === true) return [];
  const errors: string[] = [];
  if (schema.allOf) for (const s of schema.allOf) errors.push(...validate(value, s, at));
  if (schema.anyOf && !schema.anyOf.some((s: Schema) => validate(value, s, at).length === 0)) errors.push(`${at}: matches none of anyOf`);
  if (schema.oneOf && schema.oneOf.filter((s: Schema) => validate(value, s, at).length === 0).length !== 1)
    errors.push(`${at}: does not match exactly one of oneOf`);
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = typeOf(value);
    const ok = types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
    if (!ok) return [...errors, `${at}: expected ${types.join('|')}, got ${actual}`];
  }
  if (schema.enum && !schema.enum.includes(value))
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v, i) => errors.push(...validate(v, schema.items, `${at}[${i}]`)));
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: more than ${schema.maxItems} items`);
  }
  if (typeOf(value) === 'object') {
    const obj: Record<string, unknown> = isRecord(value) ? value : {};
    for (const name of schema.required ?? []) if (!(name in obj)) errors.push(`${at}.${name}: required`);
    const props: Record<string, Schema> = schema.properties ?? {};
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errors.push(...validate(v, props[k], `${at}.${k}`));
      else if (schema.additionalProperties === false) errors.push(`${at}.${k}: not allowed`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(v, schema.additionalProperties, `${at}.${k}`));
    }
  }
  return errors;
}

/** A parameter's text against its schema: integers must be integers, enums one of theirs. */
function checkParam(text: string, schema: Schema, at: string): string[] {
  const s = resolve(schema);
  if (s.type === 'integer') return /^-?\d+$/.test(text) ? [] : [`${at}: "${text}" is not an integer`];
  if (s.type === 'boolean') return ['true', 'false'].includes(text) ? [] : [`${at}: "${text}" is not a boolean`];
  return validate(text, s, at);
}

export interface RecordedRequest {
  method: string;
  /** The path as sent, and the description's template it matched ('' for none). */
  path: string;
  template: string;
  operationId: string;
  query: Record<string, string>;
  body: Json | undefined;
  authorization: string | undefined;
  /** What the answer was: the status code. */
  answered: number;
  /** What did not match GitHub's description (empty for a valid request). */
  violations: string[];
}

export interface FakeStatus {
  id: number;
  state: string;
  target_url: string | null;
  description: string | null;
  context: string;
  created_at: string;
}
export interface FakeComment {
  id: number;
  issue: number;
  body: string;
}

export type Fault = 'rate-limit' | '502' | '401';

export interface FakeGithub {
  /** The API root to give the reporter as `baseUrl`. */
  url: string;
  requests: RecordedRequest[];
  /** owner/repo@sha → statuses, oldest first. */
  statuses: Map<string, FakeStatus[]>;
  comments: FakeComment[];
  /** The next `count` requests (of `method`, or any) are answered with `fault`. */
  fail(fault: Fault, count?: number, method?: string): void;
  /** Every violation of the description seen so far. */
  violations(): string[];
  close(): Promise<void>;
}

export async function startFakeGithub(): Promise<FakeGithub> {
  allOperations();
  const requests: RecordedRequest[] = [];
  const statuses = new Map<string, FakeStatus[]>();
  const comments: FakeComment[] = [];
  const faults: { fault: Fault; method: string | undefined }[] = [];
  let nextId = 1000;
  let base = '';

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const method = req.method ?? 'GET';
      const text = Buffer.concat(chunks).toString('utf8');
      const violations: string[] = [];
      let body: Json | undefined;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          violations.push('body: not JSON');
        }
      }
      const matches = allOperations()
        .filter((o) => o.method === method && o.regex.test(url.pathname))
        .sort((a, b) => b.literalSegments - a.literalSegments);
      const op = matches[0];
      const params: Record<string, string> = {};
      const query = Object.fromEntries(url.searchParams);
      if (!op) violations.push(`${method} ${url.pathname}: no such operation in GitHub's description`);
      else {
        const values = op.regex.exec(url.pathname)?.slice(1) ?? [];
        op.names.forEach((n, i) => (params[n] = decodeURIComponent(values[i] ?? '')));
        const declared: Schema[] = (op.op.parameters ?? []).map(resolve);
        for (const p of declared) {
          if (p.in === 'path') violations.push(...checkParam(params[p.name] ?? '', p.schema ?? {}, `path.${p.name}`));
          if (p.in === 'query' && query[p.name] !== undefined)
            violations.push(...checkParam(query[p.name] ?? '', p.schema ?? {}, `query.${p.name}`));
        }
        for (const k of Object.keys(query))
          if (!declared.some((p) => p.in === 'query' && p.name === k)) violations.push(`query.${k}: not a parameter`);
        const bodySchema = op.op.requestBody?.content?.['application/json']?.schema;
        if (bodySchema) {
          if (body === undefined) {
            if (op.op.requestBody.required) violations.push('body: required');
          } else violations.push(...validate(body, bodySchema));
        } else if (body !== undefined) violations.push('body: the operation takes none');
      }
      const record: RecordedRequest = {
        method,
        path: url.pathname,
        template: op?.template ?? '',
        operationId: op?.op.operationId ?? '',
        query,
        body,
        authorization: req.headers.authorization,
        answered: 0,
        violations,
      };
      requests.push(record);
      const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        record.answered = status;
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-ratelimit-remaining': '4999', ...headers });
        res.end(JSON.stringify(payload));
      };
      const token = (req.headers.authorization ?? '').replace(/^(token|bearer)\s+/i, '');
      const faultAt = faults.findIndex((f) => f.method === undefined || f.method === method);
      const fault = faultAt >= 0 ? faults.splice(faultAt, 1)[0] : undefined;
      if (fault?.fault === 'rate-limit') {
        const reset = Math.ceil(Date.now() / 1000) + 1;
        return send(
          403,
          {
            message: `API rate limit exceeded for token ${token}.`,
            documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
          },
          { 'x-ratelimit-remaining': '0', 'x-ratelimit-limit': '5000', 'x-ratelimit-reset': String(reset) },
        );
      }
      if (fault?.fault === '502') return send(502, { message: `Server Error (request with ${token})` });
      if (fault?.fault === '401') return send(401, { message: `Bad credentials: ${token}` });
      if (violations.length > 0 || !op)
        return send(op ? 422 : 404, { message: op ? 'Validation Failed' : 'Not Found', errors: violations });

      const at = new Date().toISOString();
      const repoKey = `${params.owner}/${params.repo}`;
      switch (op.op.operationId) {
        case 'repos/create-commit-status': {
          const b = isRecord(body) ? body : {};
          const status: FakeStatus = {
            id: nextId++,
            state: String(b.state),
            target_url: typeof b.target_url === 'string' ? b.target_url : null,
            description: typeof b.description === 'string' ? b.description : null,
            context: typeof b.context === 'string' ? b.context : 'default',
            created_at: at,
          };
          const key = `${repoKey}@${params.sha}`;
          statuses.set(key, [...(statuses.get(key) ?? []), status]);
          return send(201, {
            url: `${base}/repos/${repoKey}/statuses/${params.sha}`,
            node_id: `S_${status.id}`,
            creator: null,
            updated_at: at,
            ...status,
          });
        }
        case 'repos/list-commit-statuses-for-ref': {
          const list = [...(statuses.get(`${repoKey}@${params.ref}`) ?? [])].reverse();
          const perPage = Number(query.per_page ?? 30);
          const page = Number(query.page ?? 1);
          return send(200, list.slice((page - 1) * perPage, page * perPage));
        }
        case 'issues/list-comments': {
          const list = comments.filter((c) => c.issue === Number(params.issue_number));
          const perPage = Number(query.per_page ?? 30);
          const page = Number(query.page ?? 1);
          return send(
            200,
            list.slice((page - 1) * perPage, page * perPage).map((c) => commentJson(c, repoKey, at)),
          );
        }
        case 'issues/create-comment': {
          const c: FakeComment = { id: nextId++, issue: Number(params.issue_number), body: String(isRecord(body) ? body.body : '') };
          comments.push(c);
          return send(201, commentJson(c, repoKey, at));
        }
        case 'issues/update-comment': {
          const c = comments.find((x) => x.id === Number(params.comment_id));
          if (!c) return send(404, { message: 'Not Found' });
          c.body = String(isRecord(body) ? body.body : '');
          return send(200, commentJson(c, repoKey, at));
        }
        default:
          return send(404, { message: 'Not Found (not served by the fake)' });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    requests,
    statuses,
    comments,
    fail(fault, count = 1, method) {
      for (let i = 0; i < count; i++) faults.push({ fault, method });
    },
    violations: () => requests.flatMap((r) => r.violations.map((v) => `${r.method} ${r.path}: ${v}`)),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function commentJson(c: FakeComment, repoKey: string, at: string): Record<string, Json> {
  return {
    id: c.id,
    node_id: `IC_${c.id}`,
    url: `https://api.github.com/repos/${repoKey}/issues/comments/${c.id}`,
    html_url: `https://github.com/${repoKey}/pull/${c.issue}#issuecomment-${c.id}`,
    body: c.body,
    user: null,
    created_at: at,
    updated_at: at,
    issue_url: `https://api.github.com/repos/${repoKey}/issues/${c.issue}`,
    author_association: 'NONE',
  };
}
