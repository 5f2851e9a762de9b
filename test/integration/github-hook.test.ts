/** GitHub's push webhook on a real master: signatures, push payloads to changes and requests, and refusals. */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, singleBranchScheduler } from '../../index.ts';
import type { RunningMaster } from '../../master/master.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startTestMaster, waitFor } from '../helpers/harness.ts';

const SECRET = 'a-github-webhook-secret-1234';
const REPO = {
  full_name: 'acme/app',
  clone_url: 'https://github.com/acme/app.git',
  ssh_url: 'git@github.com:acme/app.git',
  html_url: 'https://github.com/acme/app',
};

function commit(id: string, message: string, files: { added?: string[]; modified?: string[]; removed?: string[] } = {}) {
  return {
    id,
    tree_id: 'f'.repeat(40),
    distinct: true,
    message,
    timestamp: '2026-11-20T10:15:30+01:00',
    url: `https://github.com/acme/app/commit/${id}`,
    author: { name: 'Ada Lovelace', email: 'ada@example.org', username: 'ada' },
    committer: { name: 'GitHub', email: 'noreply@github.com', username: 'web-flow' },
    added: files.added ?? [],
    removed: files.removed ?? [],
    modified: files.modified ?? [],
  };
}

function push(ref: string, commits: ReturnType<typeof commit>[], extra: Record<string, unknown> = {}) {
  return {
    ref,
    before: '0'.repeat(40),
    after: commits.at(-1)?.id ?? '0'.repeat(40),
    created: false,
    deleted: false,
    forced: false,
    repository: { id: 1, name: 'app', ...REPO },
    pusher: { name: 'ada' },
    sender: { login: 'ada' },
    commits,
    head_commit: commits.at(-1) ?? null,
    ...extra,
  };
}

describe('GitHub webhook', () => {
  let master: RunningMaster;
  let plain: RunningMaster;
  let deliveries = 0;

  const deliver = async (
    event: string,
    payload: unknown,
    options: { secret?: string; signature?: string; contentType?: string; tamper?: boolean; delivery?: string } = {},
  ) => {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const signature =
      options.signature ??
      `sha256=${createHmac('sha256', options.secret ?? SECRET)
        .update(body)
        .digest('hex')}`;
    const res = await fetch(`${master.url}/hooks/github`, {
      method: 'POST',
      headers: {
        'Content-Type': options.contentType ?? 'application/json',
        'X-GitHub-Event': event,
        'X-GitHub-Delivery': options.delivery ?? `d-${++deliveries}`,
        'X-Hub-Signature-256': signature,
      },
      body: options.tamper ? body.replace('Ada', 'Eve') : body,
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const changeCount = async () => (await api(master).get('/changes')).body.meta.total as number;

  beforeAll(async () => {
    const db = testDatabases()[0] as { create(): Promise<string> };
    const builders = [{ name: 'app', factory: new BuildFactory().addStep(new ShellCommand({ name: 'test', command: ['true'] })) }];
    master = await startTestMaster(
      {
        web: { changeHooks: { github: { secret: SECRET } } },
        builders,
        schedulers: [singleBranchScheduler({ name: 'main', builderNames: ['app'], branch: 'main', repository: REPO.clone_url })],
      },
      await db.create(),
    );
    plain = await startTestMaster({ builders }, await db.create(), `plain-${process.pid}`);
  });

  afterAll(async () => {
    await master?.stop();
    await plain?.stop();
  });

  it('answers a signed ping', async () => {
    expect(await deliver('ping', { zen: 'Keep it logically awesome.', hook_id: 1 })).toEqual({ status: 200, body: { ok: true } });
  });

  it('stores a change per pushed commit and requests a build of each on the matching scheduler', async () => {
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    const res = await deliver(
      'push',
      push('refs/heads/main', [
        commit(a, 'Parser: trailing commas\n\nDetails.', { modified: ['src/parse.ts'], added: ['test/parse.test.ts'] }),
        commit(b, 'Docs', { removed: ['OLD.md'] }),
      ]),
    );
    expect(res.status).toBe(201);
    expect(res.body.changeids).toHaveLength(2);
    const client = api(master);
    const first = (await client.get(`/changes/${res.body.changeids[0]}`)).body.changes[0];
    expect(first).toMatchObject({
      repository: REPO.clone_url,
      branch: 'main',
      revision: a,
      author: 'Ada Lovelace <ada@example.org>',
      comments: 'Parser: trailing commas\n\nDetails.',
      files: ['test/parse.test.ts', 'src/parse.ts'],
      project: 'acme/app',
      category: 'push',
      when_timestamp: Date.parse('2026-11-20T09:15:30Z') / 1000,
    });
    expect((await client.get(`/changes/${res.body.changeids[1]}`)).body.changes[0].files).toEqual(['OLD.md']);
    // The requests follow the answer (the scheduler does not hold it up).
    const requests = await waitFor('two build requests', async () => {
      const rows = (await client.get('/buildrequests?order=buildrequestid')).body.buildrequests as { buildrequestid: number }[];
      return rows.length === 2 && rows;
    });
    for (const [i, r] of requests.entries()) {
      expect(
        (await client.get(`/buildrequests/${r.buildrequestid}/changes`)).body.changes.map((c: { changeid: number }) => c.changeid),
      ).toEqual([res.body.changeids[i]]);
    }
  });

  it('takes the head commit when a push brings no new commit (a new branch at an existing commit)', async () => {
    const c = 'c'.repeat(40);
    const res = await deliver('push', { ...push('refs/heads/release', []), created: true, head_commit: commit(c, 'Release') });
    expect(res.status).toBe(201);
    expect((await api(master).get(`/changes/${res.body.changeids[0]}`)).body.changes[0]).toMatchObject({ branch: 'release', revision: c });
  });

  it('takes a commit without author email, skips commits already pushed elsewhere and paths over 1000 chars', async () => {
    const noEmail = {
      ...commit('1'.repeat(40), 'From a bot', { modified: ['ok.txt', `${'d/'.repeat(600)}deep.txt`] }),
      author: { name: 'bot', email: null as unknown as string, username: 'bot' },
    };
    const seen = { ...commit('2'.repeat(40), 'Already on main'), distinct: false };
    const res = await deliver('push', push('refs/heads/topic', [seen, noEmail]));
    expect(res.status).toBe(201);
    expect(res.body.changeids).toHaveLength(1);
    expect((await api(master).get(`/changes/${res.body.changeids[0]}`)).body.changes[0]).toMatchObject({
      revision: '1'.repeat(40),
      author: 'bot',
      files: ['ok.txt'],
    });
  });

  it('handles a delivery once: a redelivery with the same X-GitHub-Delivery is ignored', async () => {
    const payload = push('refs/heads/main', [commit('3'.repeat(40), 'Once')]);
    const first = await deliver('push', payload, { delivery: 'abc-123' });
    expect(first.status).toBe(201);
    const before = await changeCount();
    expect(await deliver('push', payload, { delivery: 'abc-123' })).toEqual({
      status: 200,
      body: { ignored: 'delivery abc-123 was already handled' },
    });
    expect(await changeCount()).toBe(before);
  });

  it('refuses a missing, wrong or stale signature, and stores nothing', async () => {
    const before = await changeCount();
    const payload = push('refs/heads/main', [commit('d'.repeat(40), 'Sneaky')]);
    for (const attempt of [{ signature: '' }, { secret: 'not-the-secret-at-all' }, { tamper: true }, { signature: 'sha1=abc' }]) {
      const res = await deliver('push', payload, attempt);
      expect(res.status, JSON.stringify(attempt)).toBe(401);
      expect(res.body.error.message).toContain('X-Hub-Signature-256');
    }
    expect(await changeCount()).toBe(before);
  });

  it('ignores tags, deleted branches and other events, saying why', async () => {
    const before = await changeCount();
    expect(await deliver('push', push('refs/tags/v1.0', [commit('e'.repeat(40), 'tag')]))).toEqual({
      status: 200,
      body: { ignored: 'refs/tags/v1.0 is not a branch' },
    });
    expect(await deliver('push', push('refs/heads/old', [], { deleted: true }))).toEqual({
      status: 200,
      body: { ignored: 'refs/heads/old was deleted' },
    });
    expect(await deliver('issues', { action: 'opened' })).toEqual({
      status: 200,
      body: { ignored: 'event "issues" is not handled (only push and pull_request)' },
    });
    expect(await changeCount()).toBe(before);
  });

  it('refuses a malformed push naming the field, a form-encoded body, and stores nothing', async () => {
    const before = await changeCount();
    const notArray = await deliver('push', { ...push('refs/heads/main', []), commits: 'many' });
    expect(notArray.status).toBe(422);
    expect(notArray.body.error.message).toContain('commits');
    const badId = await deliver('push', push('refs/heads/main', [commit('f'.repeat(40), 'fine'), commit('-x', 'evil')]));
    expect(badId.status).toBe(422);
    expect(badId.body.error.message).toMatch(/^commit "-x": commits\[1\]\.id: /);
    expect(badId.body.error.details[0].path).toBe('commits[1].id');
    const form = await deliver('push', 'payload=%7B%7D', { contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(form.body.error.message).toContain('application/json');
    expect(await changeCount()).toBe(before);
  });

  it("refuses a body over the hook's own limit, naming it", async () => {
    const small = await startTestMaster(
      {
        web: { changeHooks: { github: { secret: SECRET, maxBodyBytes: 2048 } } },
        builders: [{ name: 'app', factory: new BuildFactory().addStep(new ShellCommand({ name: 't', command: ['true'] })) }],
      },
      await (testDatabases()[0] as { create(): Promise<string> }).create(),
      `small-${process.pid}`,
    );
    try {
      const body = JSON.stringify({ zen: 'x'.repeat(4096) });
      const res = await fetch(`${small.url}/hooks/github`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-GitHub-Event': 'ping',
          'X-Hub-Signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
        },
        body,
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
        'request body is larger than the limit (web.changeHooks.github.maxBodyBytes)',
      );
    } finally {
      await small.stop();
    }
  });

  it('does not exist on a master without web.changeHooks.github', async () => {
    const res = await fetch(`${plain.url}/hooks/github`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(404);
  });
});
