/**
 * Schedulers as Buildbot's (issue 12, item 5): change filters' `branchRegex` and `baseBranchRegex`
 * are anchored at the start only, like Python's `re.match` behind Buildbot's `branch_re`; and
 * `builderNames: []` is accepted, with a warning; `fileIsImportant` / `onlyImportant` as Buildbot's.
 */
import { describe, expect, it } from 'vitest';
import { matches, startChangeSchedulers } from '../../master/scheduler/change-scheduler.ts';
import { silentLogger } from '../../core/logger.ts';
import { issuesOf } from './config-helpers.ts';
import { anyBranchScheduler, forceScheduler, triggerableScheduler } from '../../master/config/schedulers.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { BuildFactory, ShellCommand } from '../../index.ts';
import type { OfferedChange } from '../../master/changes/change.ts';
import type { PropertyValue } from '../../steps/properties/properties.ts';

function change(branch: string | null, properties: Record<string, PropertyValue> = {}): OfferedChange {
  return {
    id: 1,
    repository: 'https://example.com/app.git',
    branch,
    revision: 'a'.repeat(40),
    author: '',
    comments: '',
    files: '[]',
    project: '',
    category: null,
    when_timestamp: 0,
    created_at: 0,
    masterid: null,
    waiting: false,
    properties,
  };
}

const onBranches = (branchRegex: string) => anyBranchScheduler({ name: 's', builderNames: ['b'], branchRegex });

describe('branchRegex', () => {
  it('matches at the start of the branch name, not necessarily all of it (re.match)', () => {
    expect(matches(onBranches('release'), change('release-1.0'))).toBe(true);
    expect(matches(onBranches('feature/.*'), change('feature/x'))).toBe(true);
    expect(matches(onBranches('release'), change('old-release'))).toBe(false);
    expect(matches(onBranches('feature/'), change('my-feature/x'))).toBe(false);
  });

  it('matches the whole name when it ends with $', () => {
    expect(matches(onBranches('release$'), change('release'))).toBe(true);
    expect(matches(onBranches('release$'), change('release-1.0'))).toBe(false);
  });

  it('anchors every alternative, as re.match does', () => {
    expect(matches(onBranches('main|release/.*'), change('release/2'))).toBe(true);
    expect(matches(onBranches('main|release/.*'), change('maintenance'))).toBe(true);
    expect(matches(onBranches('main|release/.*'), change('old/release/2'))).toBe(false);
  });

  it('never matches a change without a branch', () => {
    expect(matches(onBranches('.*'), change(null))).toBe(false);
  });
});

describe('baseBranchRegex', () => {
  const prs = anyBranchScheduler({ name: 'prs', builderNames: ['b'], baseBranchRegex: 'release/' });

  it('matches the base branch at its start; a change that is not a pull request never matches', () => {
    expect(matches(prs, change('refs/pull/1/head', { base_branch: 'release/2.0' }))).toBe(true);
    expect(matches(prs, change('refs/pull/1/head', { base_branch: 'old-release/2.0' }))).toBe(false);
    expect(matches(prs, change('release/2.0'))).toBe(false);
  });
});

describe('builderNames: []', () => {
  it('is accepted on every kind of scheduler, with a warning naming each', () => {
    const config = compileConfig({
      builders: [{ name: 'b', factory: new BuildFactory([new ShellCommand({ name: 's', command: 'true' })]) }],
      schedulers: [
        forceScheduler({ name: 'force', builderNames: ['b'] }),
        anyBranchScheduler({ name: 'later', builderNames: [] }),
        triggerableScheduler({ name: 'nothing-yet', builderNames: [] }),
      ],
    });
    expect(config.schedulers).toHaveLength(3);
    expect(config.warnings).toEqual([
      { path: 'schedulers[1].builderNames', message: 'is empty: scheduler "later" requests no builds' },
      { path: 'schedulers[2].builderNames', message: 'is empty: scheduler "nothing-yet" requests no builds' },
    ]);
  });

  it('leaves no warning on a config whose schedulers all have builders', () => {
    const config = compileConfig({
      builders: [{ name: 'b', factory: new BuildFactory([new ShellCommand({ name: 's', command: 'true' })]) }],
      schedulers: [forceScheduler({ name: 'force', builderNames: ['b'] })],
    });
    expect(config.warnings).toEqual([]);
  });
});

describe('fileIsImportant / onlyImportant', () => {
  const docsOnly = ({ files }: { files: string[] }) => files.some((f) => !f.startsWith('docs/'));
  const at = (id: number, files: string[], branch = 'main'): OfferedChange => ({ ...change(branch), id, files: JSON.stringify(files) });

  function schedulers(options: { treeStableTimer?: number; onlyImportant?: boolean }) {
    const requests: { builder: string; changeids: number[]; revision: unknown }[] = [];
    const released: number[] = [];
    const s = startChangeSchedulers(
      [anyBranchScheduler({ name: 's', builderNames: ['b'], fileIsImportant: docsOnly, ...options })],
      async ({ builderNames, properties, changeids = [] }) =>
        builderNames.map(
          (builder, i) => (
            requests.push({ builder, changeids, revision: properties.revision }),
            { builder, builderid: 1, buildrequestid: i + 1 }
          ),
        ),
      silentLogger,
      (ids) => released.push(...ids),
    );
    return { s, requests, released };
  }

  it('without a tree-stable timer: an important change is built, an unimportant one ignored', async () => {
    const { s, requests } = schedulers({});
    expect(s.onChange(at(1, ['docs/a.md']))).toBe(false);
    expect(s.onChange(at(2, ['src/a.ts', 'docs/a.md']))).toBe(false);
    await s.stop();
    expect(requests.map((r) => r.changeids)).toEqual([[2]]);
  });

  it('with a timer: unimportant changes wait and are built with the next important one', async () => {
    const { s, requests, released } = schedulers({ treeStableTimer: 0.05 });
    expect(s.onChange(at(1, ['docs/a.md']))).toBe(true); // held, no timer of its own
    await new Promise((r) => setTimeout(r, 120));
    expect(requests).toEqual([]);
    expect(s.onChange(at(2, ['src/a.ts']))).toBe(true);
    expect(s.onChange(at(3, ['docs/b.md']))).toBe(true); // restarts the running timer, built too
    await new Promise((r) => setTimeout(r, 400));
    expect(requests).toEqual([{ builder: 'b', changeids: [1, 2, 3], revision: 'a'.repeat(40) }]);
    expect(released).toEqual([1, 2, 3]);
    await s.stop();
  });

  it('with a timer: unimportant changes alone request nothing, and are released at the stop', async () => {
    const { s, requests, released } = schedulers({ treeStableTimer: 60 });
    s.onChange(at(1, ['docs/a.md']));
    s.onChange(at(2, ['docs/b.md']));
    await s.stop();
    expect(requests).toEqual([]);
    expect(released).toEqual([1, 2]);
  });

  it('onlyImportant drops unimportant changes: never held, never built', async () => {
    const { s, requests } = schedulers({ treeStableTimer: 0.05, onlyImportant: true });
    expect(s.onChange(at(1, ['docs/a.md']))).toBe(false);
    expect(s.onChange(at(2, ['src/a.ts']))).toBe(true);
    await new Promise((r) => setTimeout(r, 400));
    expect(requests.map((r) => r.changeids)).toEqual([[2]]);
    await s.stop();
  });

  it('is checked at config time: a function, and onlyImportant a boolean', () => {
    const base = { builders: [{ name: 'b', factory: new BuildFactory([new ShellCommand({ name: 's', command: 'true' })]) }] };
    const bad = {
      ...base,
      schedulers: [{ type: 'anyBranch', name: 'a', builderNames: ['b'], fileIsImportant: 'docs/', onlyImportant: 'yes' }],
    };
    const messages = issuesOf(() => compileConfig(bad)).map((i) => `${i.path}: ${i.message}`);
    expect(messages).toContain('schedulers[0].fileIsImportant: must be a function (change) => boolean');
    expect(messages.some((m) => m.startsWith('schedulers[0].onlyImportant:'))).toBe(true);
  });
});
