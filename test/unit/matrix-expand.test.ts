/** The cells of a matrix (GitHub Actions' rules) and the checks of its shape. */
import { describe, expect, it } from 'vitest';
import { expandMatrix, cellsMatching } from '../../master/config/matrix.ts';
import { matrixSchema, toSpec } from '../../master/config/matrix-schema.ts';

const cells = (input: unknown) => expandMatrix(toSpec(matrixSchema.parse(input)));

describe('expandMatrix', () => {
  it('makes the product of the axes in the order they are written, values as text', () => {
    expect(cells({ node: [18, '20'], target: ['a', 'b'] })).toEqual([
      { node: '18', target: 'a' },
      { node: '18', target: 'b' },
      { node: '20', target: 'a' },
      { node: '20', target: 'b' },
    ]);
  });

  it('excludes by part: every cell with all the values of an entry', () => {
    expect(cells({ node: ['18', '20'], target: ['a', 'b'], exclude: [{ node: '18', target: 'b' }] })).toHaveLength(3);
    expect(cells({ node: ['18', '20'], target: ['a', 'b'], exclude: [{ node: '18' }] })).toEqual([
      { node: '20', target: 'a' },
      { node: '20', target: 'b' },
    ]);
  });

  it('includes: extends the cells it fits, else adds a cell of its own', () => {
    expect(
      cells({
        node: ['18', '20'],
        target: ['a'],
        include: [
          { node: '20', experimental: true },
          { node: '22', target: 'a' },
        ],
      }),
    ).toEqual([
      { node: '18', target: 'a' },
      { node: '20', target: 'a', experimental: 'true' },
      { node: '22', target: 'a' },
    ]);
  });

  it('picks cells for caliper try by the values given', () => {
    const all = cells({ node: ['18', '20'], target: ['a', 'b'] });
    expect(cellsMatching(all, { node: '20' })).toHaveLength(2);
    expect(cellsMatching(all, { node: '20', target: 'b' })).toEqual([{ node: '20', target: 'b' }]);
  });
});

describe('matrixSchema', () => {
  const problems = (input: unknown) => {
    const r = matrixSchema.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  it('says what is wrong and where', () => {
    expect(problems({ node: [] })).toContain('node: an axis needs at least one value');
    expect(problems({ node: ['1'], exclude: [{ os: 'x' }] })).toContain('exclude.0.os: no axis named "os" (axes: node)');
    expect(problems({ node: ['1'], exclude: [{ node: '2' }] })).toContain('exclude.0.node: "2" is not a value of axis "node" (1)');
    expect(problems({ agent: ['x'] })[0]).toMatch(/^agent: "agent" is a tag or property every build has already/);
    expect(problems({ node: ['1', '1'] })).toContain('node: value "1" is listed twice');
    expect(problems({ node: ['1'], exclude: [{ node: '1' }] })).toContain(': makes no cell: exclude removes every combination');
    const big = { a: [...Array(20).keys()], b: [...Array(20).keys()] };
    expect(problems(big)[0]).toMatch(/makes 400 cells, more than 256/);
  });
});
