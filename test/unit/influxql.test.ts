import { describe, expect, it } from 'vitest';
import { fromWhere, ident, literal } from '../../metrics/stores/influxql.ts';

type Token = { kind: 'ident' | 'string'; text: string } | { kind: 'word'; text: string };

/**
 * Splits InfluxQL into tokens the way InfluxDB's scanner reads quoted text: inside "..." and '...'
 * a backslash escapes \, ", ' (and n); anything else after a backslash, or an unclosed quote, is a
 * syntax error. Whatever a value holds, it must come back out as exactly one string token.
 */
function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query[i] as string;
    if (c === ' ') {
      i++;
    } else if (c === '"' || c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= query.length) throw new Error(`unclosed ${c} in ${query}`);
        const d = query[i] as string;
        if (d === c) break;
        if (d === '\\') {
          const e = query[i + 1];
          if (e === '\\' || e === '"' || e === "'") text += e;
          else if (e === 'n') text += '\n';
          else throw new Error(`bad escape \\${e} in ${query}`);
          i += 2;
        } else {
          text += d;
          i++;
        }
      }
      i++;
      tokens.push({ kind: c === '"' ? 'ident' : 'string', text });
    } else {
      let text = '';
      while (i < query.length && !' "\''.includes(query[i] as string)) text += query[i++];
      tokens.push({ kind: 'word', text });
    }
  }
  return tokens;
}

describe('ident', () => {
  it.each([
    ['cpu', '"cpu"'],
    ['build time', '"build time"'],
    ['my "quoted" series', '"my \\"quoted\\" series"'],
    ['a\\b', '"a\\\\b"'],
    ['\\"', '"\\\\\\""'],
    ['trailing\\', '"trailing\\\\"'],
    ["it's", '"it\'s"'],
    ['', '""'],
  ])('quotes %j as %s', (name, quoted) => {
    expect(ident(name)).toBe(quoted);
  });

  it('round-trips through an InfluxQL scanner as one identifier', () => {
    for (const name of ['x"; DROP MEASUREMENT cpu; --', 'a\\"b', '\\\\', 'é "µs"']) {
      expect(tokenize(ident(name))).toEqual([{ kind: 'ident', text: name }]);
    }
  });
});

describe('literal', () => {
  it.each([
    ['success', "'success'"],
    ["it's", "'it\\'s'"],
    ['C:\\dir\\', "'C:\\\\dir\\\\'"],
    ["\\'", "'\\\\\\''"],
    ['say "hi"', '\'say "hi"\''],
    ['', "''"],
  ])('quotes %j as %s', (value, quoted) => {
    expect(literal(value)).toBe(quoted);
  });

  it('round-trips through an InfluxQL scanner as one string', () => {
    for (const value of ["' OR 1=1 --", "\\' OR '1'='1", "''''", '\\', "a\\\\'b"]) {
      expect(tokenize(literal(value))).toEqual([{ kind: 'string', text: value }]);
    }
  });
});

describe('fromWhere', () => {
  it('is just FROM the series without filters', () => {
    expect(fromWhere({ series: 'build_time' })).toBe('FROM "build_time"');
  });

  it('prefixes the retention policy, both quoted', () => {
    expect(fromWhere({ series: 'build_time' }, 'autogen')).toBe('FROM "autogen"."build_time"');
    expect(fromWhere({ series: 'a"b' }, 'one "week"')).toBe('FROM "one \\"week\\""."a\\"b"');
  });

  it('leaves out an empty retention policy', () => {
    expect(fromWhere({ series: 's' }, '')).toBe('FROM "s"');
  });

  it('filters the standard tags in the order builder, step, agent, result', () => {
    const q = fromWhere({ series: 's', result: 'success', agent: 'a1', step: 'compile', builder: 'b1' });
    expect(q).toBe(`FROM "s" WHERE "builder" = 'b1' AND "step" = 'compile' AND "agent" = 'a1' AND "result" = 'success'`);
  });

  it('adds only the standard tags that are set', () => {
    expect(fromWhere({ series: 's', step: 'test' })).toBe(`FROM "s" WHERE "step" = 'test'`);
  });

  it('adds user tags after the standard ones, sorted by name', () => {
    const q = fromWhere({ series: 's', builder: 'b1', tags: { zeta: '1', alpha: '2', Beta: '3' } });
    expect(q).toBe(`FROM "s" WHERE "builder" = 'b1' AND "Beta" = '3' AND "alpha" = '2' AND "zeta" = '1'`);
  });

  it('gives the same text whatever order the user tags were given in', () => {
    const a = fromWhere({ series: 's', tags: { os: 'linux', arch: 'x64', cc: 'gcc' } });
    const b = fromWhere({ series: 's', tags: { cc: 'gcc', os: 'linux', arch: 'x64' } });
    expect(a).toBe(b);
    expect(a).toBe(`FROM "s" WHERE "arch" = 'x64' AND "cc" = 'gcc' AND "os" = 'linux'`);
  });

  describe('time bounds', () => {
    it('turns epoch ms into nanosecond integers, the end of the `to` millisecond included', () => {
      const q = fromWhere({ series: 's', from: 1_700_000_000_123, to: 1_700_000_000_456 });
      expect(q).toBe('FROM "s" WHERE time >= 1700000000123000000 AND time <= 1700000000456999999');
    });

    it('is exact beyond 2^53, where float arithmetic would round the last digits', () => {
      // 1700000000456999999 is not a double: Number arithmetic would print ...457000000.
      expect(String(1_700_000_000_456 * 1_000_000 + 999_999)).not.toBe('1700000000456999999');
      expect(fromWhere({ series: 's', to: 1_700_000_000_456 })).toBe('FROM "s" WHERE time <= 1700000000456999999');
      expect(fromWhere({ series: 's', from: 4_102_444_800_001 })).toBe('FROM "s" WHERE time >= 4102444800001000000');
    });

    it('keeps a bound of 0', () => {
      expect(fromWhere({ series: 's', from: 0 })).toBe('FROM "s" WHERE time >= 0');
      expect(fromWhere({ series: 's', to: 0 })).toBe('FROM "s" WHERE time <= 999999');
    });

    it('truncates fractional milliseconds', () => {
      expect(fromWhere({ series: 's', from: 1.9, to: 2.5 })).toBe('FROM "s" WHERE time >= 1000000 AND time <= 2999999');
    });

    it('puts the time bounds after all tags', () => {
      const q = fromWhere({ series: 'm', builder: 'b', tags: { os: 'linux' }, from: 1000, to: 2000 }, 'rp');
      expect(q).toBe(`FROM "rp"."m" WHERE "builder" = 'b' AND "os" = 'linux' AND time >= 1000000000 AND time <= 2000999999`);
    });
  });

  describe('hostile values', () => {
    it("keeps `' OR 1=1 --` inside the literal", () => {
      const q = fromWhere({ series: 's', builder: "x' OR 1=1 --", tags: { branch: "main' OR 1=1 --" } });
      expect(q).toBe(`FROM "s" WHERE "builder" = 'x\\' OR 1=1 --' AND "branch" = 'main\\' OR 1=1 --'`);
      expect(tokenize(q)).toEqual([
        { kind: 'word', text: 'FROM' },
        { kind: 'ident', text: 's' },
        { kind: 'word', text: 'WHERE' },
        { kind: 'ident', text: 'builder' },
        { kind: 'word', text: '=' },
        { kind: 'string', text: "x' OR 1=1 --" },
        { kind: 'word', text: 'AND' },
        { kind: 'ident', text: 'branch' },
        { kind: 'word', text: '=' },
        { kind: 'string', text: "main' OR 1=1 --" },
      ]);
    });

    it('keeps a value ending in a backslash from escaping the closing quote', () => {
      const q = fromWhere({ series: 's', step: 'dir\\', result: "\\' OR '1'='1" });
      expect(q).toBe(`FROM "s" WHERE "step" = 'dir\\\\' AND "result" = '\\\\\\' OR \\'1\\'=\\'1'`);
      const strings = tokenize(q).filter((t) => t.kind === 'string');
      expect(strings.map((t) => t.text)).toEqual(['dir\\', "\\' OR '1'='1"]);
    });

    it('keeps a hostile tag name and series name inside their identifiers', () => {
      const q = fromWhere({ series: 'cpu" WHERE 1=1 --', tags: { 'os" = \'x\' OR "a': 'linux' } }, 'rp"');
      const tokens = tokenize(q);
      expect(tokens.filter((t) => t.kind === 'ident').map((t) => t.text)).toEqual(['rp"', 'cpu" WHERE 1=1 --', 'os" = \'x\' OR "a']);
      expect(tokens.filter((t) => t.kind === 'word').map((t) => t.text)).toEqual(['FROM', '.', 'WHERE', '=']);
    });
  });
});
