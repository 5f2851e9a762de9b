import { describe, expect, it } from 'vitest';
import { parseMeasurements } from '../../steps/measure-shell-command.ts';

function valuesOf(stdout: string, single = 'metric'): [string, number][] {
  const r = parseMeasurements(stdout, single);
  if (!r.ok) throw new Error(`expected values, got error: ${r.error}`);
  return r.values;
}

function errorOf(stdout: string): string {
  const r = parseMeasurements(stdout, 'metric');
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.values)}`);
  return r.error;
}

const lineError = (n: number, line: string) => `line ${n} is not a number or key=value with a numeric value: ${JSON.stringify(line)}`;

describe('parseMeasurements: a single number', () => {
  it.each([
    ['42', 42],
    ['0', 0],
    ['-7', -7],
    ['+5', 5],
    ['3.25', 3.25],
    ['.5', 0.5],
    ['5.', 5],
    ['-0.125', -0.125],
    ['1.5e3', 1500],
    ['2E-3', 0.002],
    ['-1e+2', -100],
    ['6.02e23', 6.02e23],
  ])('reads %j as %d under the given name', (out, value) => {
    expect(valuesOf(out, 'binary_size')).toEqual([['binary_size', value]]);
  });

  it('ignores surrounding whitespace, newlines, blank lines and CRLF', () => {
    expect(valuesOf('  3.25 \n', 'm')).toEqual([['m', 3.25]]);
    expect(valuesOf('\n\n\t42\t\n\n', 'm')).toEqual([['m', 42]]);
    expect(valuesOf('1234\r\n', 'm')).toEqual([['m', 1234]]);
  });

  it.each(['12 MB', 'abc', '0x10', 'NaN', 'Infinity', '1,000', '1_000', '--1', '1e', 'e5', '.'])(
    'rejects %j, quoting it as line 1',
    (out) => {
      expect(errorOf(out)).toBe(lineError(1, out));
    },
  );

  it('rejects two bare numbers at the first of them', () => {
    expect(errorOf('1\n2\n')).toBe(lineError(1, '1'));
  });
});

describe('parseMeasurements: key=value lines', () => {
  it('reads each line as a named value, in order', () => {
    const out = 'build_time=12.5\nbinary.size:bytes=1024\n  mem-peak = 3e6  \nwarnings=-2\n';
    expect(valuesOf(out)).toEqual([
      ['build_time', 12.5],
      ['binary.size:bytes', 1024],
      ['mem-peak', 3e6],
      ['warnings', -2],
    ]);
  });

  it('reads a single key=value line by its key, not the default name', () => {
    expect(valuesOf('x=1\n', 'default_name')).toEqual([['x', 1]]);
  });

  it('skips blank lines between values and reads CRLF', () => {
    expect(valuesOf('a=1\r\n\r\n   \r\nb=2\r\n')).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it.each([
    ['x=1.2.3', 1],
    ['=5', 1],
    ['x=', 1],
    ['x=1 2', 1],
    ['x=12MB', 1],
    ['1x=3', 1],
    ['x y=3', 1],
    ['x=NaN', 1],
  ])('rejects %j, quoting the line', (out, n) => {
    expect(errorOf(out)).toBe(lineError(n, out));
  });

  it('names the first bad line among good ones', () => {
    expect(errorOf('a=1\nb=2\nc=3 ms\nd=oops\n')).toBe(lineError(3, 'c=3 ms'));
    expect(errorOf('a=1\n12 MB\n')).toBe(lineError(2, '12 MB'));
  });

  it('quotes at most 200 characters of a long line', () => {
    const long = `key=${'9'.repeat(100)}x${'z'.repeat(300)}`;
    const error = errorOf(long);
    expect(error).toBe(`line 1 is not a number or key=value with a numeric value: ${JSON.stringify(long.slice(0, 200))}`);
  });

  // Line numbers are as printed: blank lines count.
  it('gives the line number as printed, counting blank lines', () => {
    expect(errorOf('a=1\n\nb=oops\n')).toBe(lineError(3, 'b=oops'));
  });
});

describe('parseMeasurements: empty output', () => {
  it.each(['', '\n', '   \n\t\n', '\r\n\r\n'])('rejects %j as printing nothing', (out) => {
    expect(errorOf(out)).toBe('the command printed nothing: expected a number or key=value lines');
  });
});

describe('parseMeasurements: numbers too large for a double', () => {
  // 1e400 is Infinity in a double: it is unreadable output, not a value.
  it('rejects a value that overflows to Infinity, quoting the line', () => {
    expect(errorOf('1e400')).toBe(lineError(1, '1e400'));
  });
});
