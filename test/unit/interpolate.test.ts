import { describe, expect, it } from 'vitest';
import { interpolate, isInterpolate, render, renderCommand, type PropertyReader } from '../../steps/properties/interpolate.ts';
import { Properties, type PropertyValue } from '../../steps/properties/properties.ts';

function props(values: Record<string, PropertyValue>): Properties {
  const p = new Properties();
  p.setAll(values, 'test');
  return p;
}

describe('interpolate', () => {
  it('renders %(prop:x)s from the properties', () => {
    expect(interpolate('git checkout %(prop:branch)s').render(props({ branch: 'release-1.2' }))).toBe('git checkout release-1.2');
  });

  it('renders several properties and non-string values', () => {
    const p = props({ n: 0, ok: false, name: 'x.y', nothing: null });
    expect(interpolate('%(prop:name)s/%(prop:n)s/%(prop:ok)s/[%(prop:nothing)s]').render(p)).toBe('x.y/0/false/[]');
  });

  it('uses :-default only when the property is unset', () => {
    const t = interpolate('%(prop:branch:-main)s');
    expect(t.render(props({}))).toBe('main');
    expect(t.render(props({ branch: 'dev' }))).toBe('dev');
    // Set but empty is still set.
    expect(t.render(props({ branch: '' }))).toBe('');
  });

  it('uses :~default when the property is unset or falsy', () => {
    const t = interpolate('%(prop:jobs:~4)s');
    expect(t.render(props({}))).toBe('4');
    for (const falsy of ['', 0, false, null] as PropertyValue[]) expect(t.render(props({ jobs: falsy })), String(falsy)).toBe('4');
    expect(t.render(props({ jobs: 8 }))).toBe('8');
  });

  it('allows an empty default', () => {
    expect(interpolate('[%(prop:x:-)s]').render(props({}))).toBe('[]');
  });

  it('turns %% into a literal percent sign, and does not interpolate after it', () => {
    const p = props({ x: 'v' });
    expect(interpolate('100%% of %(prop:x)s').render(p)).toBe('100% of v');
    expect(interpolate('%%(prop:x)s').render(p)).toBe('%(prop:x)s');
    expect(interpolate('%%%(prop:x)s').render(p)).toBe('%v');
  });

  it('leaves text without placeholders alone', () => {
    expect(interpolate('echo 50% done (really)').render(props({}))).toBe('echo 50% done (really)');
  });

  it('names the missing property in its error', () => {
    expect(() => interpolate('make %(prop:target_name)s').render(props({ other: 1 }))).toThrow(/property "target_name" is not set/);
  });

  it('refuses an unknown source', () => {
    expect(() => interpolate('%(kw:token)s').render(props({ token: 'x' }))).toThrow(/unknown source "kw"/);
  });

  it('renders a configured secret and refuses an unknown one', () => {
    const withSecrets = new Properties({}, { TOKEN: 's3cret' });
    expect(interpolate('t=%(secret:TOKEN)s').render(withSecrets)).toBe('t=s3cret');
    expect(() => interpolate('%(secret:OTHER)s').render(withSecrets)).toThrow(/no secret named "OTHER"/);
    expect(() => interpolate('%(secret:TOKEN)s').render(props({ TOKEN: 'x' }))).toThrow(/no secret named "TOKEN"/);
  });

  it('is recognised as an interpolation and serialises readably', () => {
    const t = interpolate('a %(prop:b)s');
    expect(isInterpolate(t)).toBe(true);
    expect(isInterpolate('a %(prop:b)s')).toBe(false);
    expect(isInterpolate({ template: 'x' })).toBe(false);
    expect(JSON.stringify({ command: t })).toBe(JSON.stringify({ command: 'interpolate("a %(prop:b)s")' }));
  });
});

describe('render', () => {
  it('returns plain values as they are, calls functions with the properties, renders interpolations', async () => {
    const p = props({ v: 'x' });
    expect(await render(42, p)).toBe(42);
    expect(await render((r: PropertyReader) => `${String(r.get('v'))}!`, p)).toBe('x!');
    expect(await render(async (r: PropertyReader) => r.has('v'), p)).toBe(true);
    expect(await render(interpolate('<%(prop:v)s>'), p)).toBe('<x>');
  });
});

describe('renderCommand', () => {
  const p = props({ branch: 'main', jobs: 4 });

  it('renders every element of an argv: strings, interpolations and functions', async () => {
    const argv = ['make', interpolate('-j%(prop:jobs)s'), (r: PropertyReader) => `BRANCH=${String(r.get('branch'))}`, async () => 'all'];
    expect(await renderCommand(argv, p)).toEqual(['make', '-j4', 'BRANCH=main', 'all']);
  });

  it('renders a shell string, an interpolated string and a function returning an argv', async () => {
    expect(await renderCommand('echo hi', p)).toBe('echo hi');
    expect(await renderCommand(interpolate('git checkout %(prop:branch)s'), p)).toBe('git checkout main');
    expect(await renderCommand(() => ['echo', interpolate('%(prop:branch)s')], p)).toEqual(['echo', 'main']);
  });

  it('fails when an element names a missing property', async () => {
    await expect(renderCommand(['echo', interpolate('%(prop:nope)s')], p)).rejects.toThrow(/"nope"/);
  });
});

describe('Properties', () => {
  it('keeps the source beside each value and lets later sets win', () => {
    const p = new Properties({ a: [1, 'builder'] });
    p.set('a', 2, 'step');
    p.setAll({ b: 'x' }, 'scheduler');
    expect(p.get('a')).toBe(2);
    expect(p.has('b')).toBe(true);
    expect(p.has('c')).toBe(false);
    expect(p.get('c')).toBeUndefined();
    expect(p.toJSON()).toEqual({ a: [2, 'step'], b: ['x', 'scheduler'] });
  });
});
