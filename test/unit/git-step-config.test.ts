/** The Git step's options as the config check sees them, and what it reads of `git ls-remote --symref`. */
import { describe, expect, it } from 'vitest';
import { Git, interpolate, type GitOptions } from '../../index.ts';
import { compileConfig } from '../../master/config/compile.ts';
import { remoteHeadBranch } from '../../steps/git.ts';
import { issuesOf, withStep } from './config-helpers.ts';

const issuesFor = (options: GitOptions) => issuesOf(() => compileConfig(withStep(new Git(options))));

describe('Git step options', () => {
  it("accepts Buildbot's modes, methods, submodules, getDescription, config and a renderable repourl", () => {
    for (const options of [
      { repourl: 'x', mode: 'full', method: 'clean', submodules: true },
      { repourl: 'x', mode: 'full', method: 'copy', workdir: 'checkout' },
      { repourl: 'x', getDescription: { tags: true, always: true, match: 'v*', abbrev: 0, dirty: '-modified' } },
      { repourl: 'x', config: { 'protocol.file.allow': 'always', 'url.https://example.org/.insteadOf': 'git://example.org/' } },
      { repourl: interpolate('%(prop:base:-/srv/git)s/app.git') },
      { repourl: () => 'https://example.org/app.git' },
    ] satisfies GitOptions[])
      expect(() => compileConfig(withStep(new Git(options)))).not.toThrow();
  });

  it('names the bad option', () => {
    const at = (options: GitOptions) => issuesFor(options).map((i) => i.path.replace('builders[0].factory.steps[0].', ''));
    expect(at({ repourl: '--upload-pack=evil' })).toEqual(['repourl']);
    expect(at({ repourl: 'x', method: 'clean' })).toEqual(['method']);
    expect(at({ repourl: 'x', mode: 'full', method: 'copy', workdir: 'source' })).toEqual(['workdir']);
    expect(at({ repourl: 'x', mode: 'full', method: 'copy', workdir: './' })).toEqual(['workdir']);
    expect(at({ repourl: 'x', mode: 'full', method: 'copy', workdir: 'source/inner' })).toEqual(['workdir']);
    expect(at({ repourl: 'x', config: { nodot: 'a' } })).toEqual(['config.nodot']);
    expect(at({ repourl: 'x', getDescription: JSON.parse('{"tag": true}') })).toEqual(['getDescription']);
  });

  it('refuses an interpolate() in repourl that Caliper cannot render, at check time', () => {
    expect(issuesFor({ repourl: interpolate('%(nosuch:x)s') }).map((i) => i.path)).toEqual(['builders[0].factory.steps[0].repourl']);
  });

  it('lists commit-description among the properties it sets only with getDescription', () => {
    expect(new Git({ repourl: 'x' }).providedProperties()).not.toContain('commit-description');
    expect(new Git({ repourl: 'x', getDescription: true }).providedProperties()).toContain('commit-description');
  });
});

describe('remoteHeadBranch', () => {
  it('reads the branch HEAD names; none for a detached HEAD or a name git would refuse', () => {
    expect(remoteHeadBranch('ref: refs/heads/master\tHEAD\n5567d9eb0cd5659fa2eafc4ee6a7c49b8d6660ad\tHEAD\n')).toBe('master');
    expect(remoteHeadBranch('ref: refs/heads/release/1.x\tHEAD\n')).toBe('release/1.x');
    expect(remoteHeadBranch('5567d9eb0cd5659fa2eafc4ee6a7c49b8d6660ad\tHEAD\n')).toBeNull();
    expect(remoteHeadBranch('ref: refs/heads/-x\tHEAD\n')).toBeNull();
    expect(remoteHeadBranch('')).toBeNull();
  });
});
