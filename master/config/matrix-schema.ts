/**
 * The `matrix` of a builder as written (GitHub Actions' shape): each key an axis with its list of
 * values, beside the optional `exclude` and `include` lists (matrix.ts says how they combine).
 *
 *   matrix: { node: ['18', '20'], target: ['a', 'b'], exclude: [{ node: '18', target: 'b' }] }
 *
 * Checked here: axis names, values, entries that name no axis or no value of one, and the number of
 * cells the whole makes (none, or more than MAX_MATRIX_CELLS, is an error).
 */
import { z } from 'zod';
import { cellLabel, expandMatrix, MAX_MATRIX_CELLS, RESERVED_AXIS_NAMES, type MatrixSpec, type MatrixValue } from './matrix.ts';

const AXIS_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const value = z.union([z.string().min(1).max(100), z.number(), z.boolean()], {
  error: 'must be a string, a number or a boolean',
});
const entry = z.record(z.string(), value);

const matrixBaseSchema = z
  .object({
    exclude: z.array(entry).default([]),
    include: z.array(entry).default([]),
  })
  .catchall(z.array(value, { error: 'an axis must be a list of values' }).min(1, 'an axis needs at least one value'))
  .superRefine((m, ctx) => {
    const axes = axesOf(m);
    for (const [name, values] of Object.entries(axes)) {
      if (!AXIS_NAME.test(name))
        ctx.addIssue({ code: 'custom', path: [name], message: 'an axis name is letters, digits and "_" (not first)' });
      else if (RESERVED_AXIS_NAMES.includes(name))
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: `"${name}" is a tag or property every build has already: name the axis otherwise`,
        });
      const texts = values.map(String);
      const twice = texts.find((t, i) => texts.indexOf(t) !== i);
      if (twice !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: `value "${twice}" is listed twice` });
    }
    m.exclude.forEach((e, i) => {
      if (Object.keys(e).length === 0)
        ctx.addIssue({ code: 'custom', path: ['exclude', i], message: 'is empty: it would exclude every cell' });
      for (const [k, v] of Object.entries(e)) {
        const values = axes[k];
        if (!values)
          ctx.addIssue({
            code: 'custom',
            path: ['exclude', i, k],
            message: `no axis named "${k}" (axes: ${Object.keys(axes).join(', ')})`,
          });
        else if (!values.map(String).includes(String(v)))
          ctx.addIssue({
            code: 'custom',
            path: ['exclude', i, k],
            message: `"${String(v)}" is not a value of axis "${k}" (${values.join(', ')})`,
          });
      }
    });
    m.include.forEach((e, i) => {
      if (Object.keys(e).length === 0) ctx.addIssue({ code: 'custom', path: ['include', i], message: 'is empty: it adds nothing' });
      for (const k of Object.keys(e))
        if (!AXIS_NAME.test(k) || RESERVED_AXIS_NAMES.includes(k))
          ctx.addIssue({
            code: 'custom',
            path: ['include', i, k],
            message: `"${k}" cannot be a matrix key (letters, digits and "_", and not a reserved name)`,
          });
    });
    const cells = expandMatrix(toSpec(m));
    if (cells.length === 0) ctx.addIssue({ code: 'custom', path: [], message: 'makes no cell: exclude removes every combination' });
    else if (cells.length > MAX_MATRIX_CELLS)
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `makes ${cells.length} cells, more than ${MAX_MATRIX_CELLS} (first: ${cellLabel(cells[0] ?? {})})`,
      });
  });

/**
 * What a user writes. TypeScript cannot type "every key but two is an axis" with an index
 * signature, so `exclude` and `include` share the axes' signature here; the schema tells them apart.
 */
export type MatrixInput = {
  exclude?: readonly Record<string, MatrixValue>[];
  include?: readonly Record<string, MatrixValue>[];
} & { [axis: string]: readonly MatrixValue[] | readonly Record<string, MatrixValue>[] | undefined };
export type ParsedMatrix = z.output<typeof matrixBaseSchema>;

function axesOf(m: Record<string, unknown>): Record<string, MatrixValue[]> {
  return Object.fromEntries(
    Object.entries(m).filter((e): e is [string, MatrixValue[]] => e[0] !== 'exclude' && e[0] !== 'include' && Array.isArray(e[1])),
  );
}

/** The schema with the input type users write (MatrixInput). */
export const matrixSchema: z.ZodType<ParsedMatrix, MatrixInput> = matrixBaseSchema as z.ZodType<ParsedMatrix, MatrixInput>;

/** The parsed matrix as matrix.ts takes it. */
export function toSpec(m: ParsedMatrix): MatrixSpec {
  return { axes: axesOf(m), exclude: m.exclude, include: m.include };
}
