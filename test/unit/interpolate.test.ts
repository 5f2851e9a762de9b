import { describe, expect, it } from 'vitest';
import { interpolate, isInterpolate, render, renderCommand, type PropertyReader } from '../../steps/properties/interpolate.ts';
import { Properties, type PropertyValue } from '../../steps/properties/properties.ts';
import { renderer, transform } from '../../steps/properties/renderers.ts';
import { renderableProblems } from '../../steps/properties/renderable-problems.ts';

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

  it('refuses an unknown source (kw: needs the keyword passed)', () => {
    expect(() => interpolate('%(foo:token)s').render(props({ token: 'x' }))).toThrow(/unknown source "foo"/);
    expect(() => interpolate('%(kw:token)s').render(props({ token: 'x' }))).toThrow(/no keyword argument "token"/);
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

describe('interpolate: the rest of Buildbot syntax', () => {
  it(':+replacement gives the replacement when the property is set (even falsy), else nothing', () => {
    const t = interpolate('make%(prop:jobs:+ -j%(prop:jobs)s)s');
    expect(t.render(props({}))).toBe('make');
    expect(t.render(props({ jobs: 4 }))).toBe('make -j4');
    expect(t.render(props({ jobs: '' }))).toBe('make -j');
  });

  it(':?|a|b chooses by whether the property is set; :#?|a|b by whether it is set and truthy', () => {
    const set = interpolate('%(prop:x:?|yes|no)s');
    const truthy = interpolate('%(prop:x:#?|yes|no)s');
    expect([set.render(props({})), truthy.render(props({}))]).toEqual(['no', 'no']);
    const falsies: PropertyValue[] = ['', 0, false, null, [], {}];
    for (const falsy of falsies) {
      expect(set.render(props({ x: falsy })), JSON.stringify(falsy)).toBe('yes');
      expect(truthy.render(props({ x: falsy })), JSON.stringify(falsy)).toBe('no');
    }
    expect(truthy.render(props({ x: 'on' }))).toBe('yes');
    // Any delimiter but "(", and the branches are templates themselves.
    expect(interpolate('%(prop:x:?/on %(prop:x)s/off)s').render(props({ x: 'b' }))).toBe('on b');
    expect(interpolate('%(prop:x:?||empty)s').render(props({ x: 1 }))).toBe('');
  });

  it('defaults may hold other interpolations and %%', () => {
    expect(interpolate('%(prop:a:-%(prop:b)s)s').render(props({ b: 'B' }))).toBe('B');
    expect(interpolate('%(prop:a:~100%%)s').render(props({}))).toBe('100%');
  });

  it('%(kw:NAME)s renders keyword arguments, which may be renderables, with every operator', async () => {
    const p = props({ branch: 'dev' });
    expect(interpolate('%(kw:greeting)s', { greeting: 'hi' }).render(p)).toBe('hi');
    expect(interpolate('%(kw:b)s', { b: interpolate('on %(prop:branch)s') }).render(p)).toBe('on dev');
    const fromFn = interpolate('[%(kw:n)s]', { n: async (r: PropertyReader) => `${String(r.get('branch'))}!` });
    expect(await render(fromFn, p)).toBe('[dev!]');
    expect(() => fromFn.render(p)).toThrow(/keyword "n" is a function/);
    expect(interpolate('%(kw:x:-none)s|%(kw:x:+set)s|%(kw:x:?|y|n)s').render(p)).toBe('none||n');
    expect(interpolate('%(kw:x:~none)s|%(kw:x:#?|y|n)s', { x: 0 }).render(p)).toBe('none|n');
  });

  it("%(src:CODEBASE:ATTR)s reads the build's one source from its properties", () => {
    const p = props({ repository: 'https://example.com/org/caliper.git', branch: 'main', revision: 'abc123', project: 'cal' });
    expect(interpolate('%(src::repository)s %(src::branch)s %(src::revision)s %(src::project)s [%(src::codebase)s]').render(p)).toBe(
      'https://example.com/org/caliper.git main abc123 cal []',
    );
    // The repository's name matches as a codebase; another name has no source, so '' or the default.
    expect(interpolate('%(src:caliper:branch)s').render(p)).toBe('main');
    expect(interpolate('[%(src:other:branch)s] %(src:other:branch:-none)s').render(p)).toBe('[] none');
    expect(interpolate('%(src:lib:revision)s').render(props({ codebase: 'lib', revision: 'r1' }))).toBe('r1');
    // An unset attribute renders as '' (Buildbot's), unlike a property.
    expect(interpolate('[%(src::revision)s] %(src::revision:-HEAD)s').render(props({}))).toBe('[] HEAD');
  });

  it('%(worker:ATTR)s reads what the agent said in its hello', () => {
    const p = new Properties({}, {}, { name: 'a1', os: 'linux', version: '1.2.0', labels: ['x86', 'big'] });
    expect(interpolate('%(worker:name)s %(worker:os)s %(worker:version)s %(worker:labels)s').render(p)).toBe('a1 linux 1.2.0 x86,big');
    expect(interpolate('[%(worker:os)s] %(worker:os:-unknown)s').render(new Properties({}, {}, { name: 'a1' }))).toBe('[] unknown');
  });

  it('records every unknown or malformed form as a problem, and refuses to render it', () => {
    const bad = [
      ['%(foo:x)s', /unknown source "foo"/],
      ['%(prop:x)', /must end in "\)s"/],
      ['%(prop:x)d', /must end in "\)s"/],
      ['%(prop:x', /no closing/],
      ['%(x)s', /has no source/],
      ['%(prop:x:*y)s', /unknown operator "\*y"/],
      ['%(prop:x:?|only)s', /ternary/],
      ['%(prop:x:?(a(b)s', /no closing|ternary/],
      ['%(prop:x y)s', /not a property name/],
      ['%(src:branch)s', /codebase and an attribute/],
      ['%(src::sha)s', /unknown source attribute "sha"/],
      ['%(worker:cpu)s', /unknown worker attribute "cpu"/],
      ['%(secret:T:-x)s', /secret takes no default/],
      ['%(kw:missing)s', /no keyword argument "missing"/],
      ['%(prop:a:-%(bogus:b)s)s', /unknown source "bogus"/],
    ] as const;
    for (const [template, message] of bad) {
      const t = interpolate(template);
      expect(t.problems.join('\n'), template).toMatch(message);
      expect(() => t.render(props({ x: 1 })), template).toThrow(message);
    }
    expect(interpolate('%(prop:x:-a)s %(kw:k)s %(src::branch)s %(worker:name)s %(secret:T)s', { k: 1 }).problems).toEqual([]);
  });
});

describe('renderer and transform', () => {
  it('renderer(fn) computes its value from the properties when rendered', async () => {
    const r = renderer((p: PropertyReader) => `${String(p.get('a'))}-${String(p.get('b'))}`);
    expect(await render(r, props({ a: 1, b: 2 }))).toBe('1-2');
    expect(await renderCommand(['echo', r], props({ a: 'x', b: 'y' }))).toEqual(['echo', 'x-y']);
  });

  it('transform(renderable, fn) applies fn to the rendered value', async () => {
    const upper = transform(interpolate('%(prop:branch)s'), (b) => b.toUpperCase());
    expect(await render(upper, props({ branch: 'dev' }))).toBe('DEV');
    expect(
      await render(
        transform(41, (n) => Number(n) + 1),
        props({}),
      ),
    ).toBe(42);
  });
});

describe('renderableProblems', () => {
  it('finds bad templates inside arrays, records, keyword arguments and transforms, with their paths', () => {
    const options = {
      name: 'x',
      command: ['echo', interpolate('%(foo:x)s')],
      env: { A: transform(interpolate('%(prop:y)'), (v) => v) },
      other: interpolate('%(kw:k)s', { k: interpolate('%(worker:cpu)s') }),
      fine: interpolate('%(prop:z)s'),
    };
    const found = renderableProblems(options, ['steps', 0]).map((p) => [p.path.join('.'), p.message]);
    expect(found).toEqual([
      ['steps.0.command.1', expect.stringMatching(/unknown source "foo"/)],
      ['steps.0.env.A', expect.stringMatching(/must end in/)],
      ['steps.0.other', expect.stringMatching(/unknown worker attribute "cpu"/)],
    ]);
  });
});
