/**
 * Matrix builds: a builder that declares axes (`matrix: { node: ['18', '20'], target: ['a', 'b'] }`)
 * runs one build per combination of their values, a *cell*. One submission fans out into one request
 * per cell, all in one buildset (the matrix's parent: its result is the worst of its cells'); each
 * cell's build has the axis values as properties (source 'Matrix') and as tags on every metric point.
 *
 * The combinations follow GitHub Actions' rules, so a workflow's matrix reads the same here:
 * 1. the product of the axes, in the order they are written;
 * 2. `exclude` removes every combination that has all the key/values of one of its entries;
 * 3. each `include` entry is added to every remaining combination it does not contradict (its keys
 *    that are axes have the combination's values), adding its other keys; an entry that fits no
 *    combination becomes a cell of its own.
 */

/** The source of the properties a cell's build gets from its axes. */
export const MATRIX_PROPERTY_SOURCE = 'Matrix';

/** At most this many cells in one matrix (GitHub Actions' limit): a typo must not queue thousands of builds. */
export const MAX_MATRIX_CELLS = 256;

/** A value of an axis as written: YAML gives numbers and booleans, builds and tags see its text. */
export type MatrixValue = string | number | boolean;

/** One combination: axis name -> value (text). */
export type MatrixCell = Readonly<Record<string, string>>;

/** A matrix as declared (config/schema.ts checks its shape). */
export interface MatrixSpec {
  axes: Record<string, readonly MatrixValue[]>;
  exclude?: readonly Record<string, MatrixValue>[];
  include?: readonly Record<string, MatrixValue>[];
}

/**
 * Names an axis cannot take: the tags every metric point has already (builder, step, agent, result)
 * and the properties every build sets itself.
 */
export const RESERVED_AXIS_NAMES: readonly string[] = [
  'builder',
  'step',
  'agent',
  'result',
  'buildername',
  'buildnumber',
  'agentname',
  'reason',
  'scheduler',
];

const text = (v: MatrixValue): string => String(v);
const textOf = (entry: Record<string, MatrixValue>): Record<string, string> =>
  Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, text(v)]));

/** Whether `cell` has every key/value of `entry` (an exclude entry matches by part). */
function hasAll(cell: MatrixCell, entry: Record<string, string>): boolean {
  return Object.entries(entry).every(([k, v]) => cell[k] === v);
}

/** The cells of a matrix, in a stable order: the product in axis order, then the included ones. */
export function expandMatrix(spec: MatrixSpec): MatrixCell[] {
  let cells: Record<string, string>[] = [{}];
  for (const [axis, values] of Object.entries(spec.axes)) {
    cells = cells.flatMap((cell) => values.map((v) => ({ ...cell, [axis]: text(v) })));
  }
  // No axes at all (only include entries): no product, only what include adds.
  if (Object.keys(spec.axes).length === 0) cells = [];
  const excludes = (spec.exclude ?? []).map(textOf);
  cells = cells.filter((cell) => !excludes.some((entry) => hasAll(cell, entry)));
  const axisNames = new Set(Object.keys(spec.axes));
  const product = cells.length;
  for (const entry of (spec.include ?? []).map(textOf)) {
    let fitted = false;
    // Only the product's cells are extended; a cell an earlier include made is its own.
    for (let i = 0; i < product; i++) {
      const cell = cells[i];
      if (!cell) continue;
      if (Object.entries(entry).every(([k, v]) => !axisNames.has(k) || cell[k] === v)) {
        cells[i] = { ...cell, ...entry };
        fitted = true;
      }
    }
    if (!fitted) cells.push({ ...entry });
  }
  return dedupeCells(cells);
}

/** Two include entries may make the same cell: one build of it is enough. */
function dedupeCells(cells: MatrixCell[]): MatrixCell[] {
  const seen = new Set<string>();
  return cells.filter((c) => {
    const key = cellKey(c);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A cell as one stable text (keys sorted): the form stored with its request. */
export function cellKey(cell: MatrixCell): string {
  return JSON.stringify(Object.fromEntries(Object.entries(cell).sort(([a], [b]) => a.localeCompare(b))));
}

/** A cell for people: `node=18, target=a`. */
export function cellLabel(cell: MatrixCell): string {
  return Object.entries(cell)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** The cell stored with a request (`buildrequests.matrix`), or null for a request that is no cell. */
export function parseStoredCell(stored: string | null | undefined, where: string): MatrixCell | null {
  if (stored === null || stored === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(stored);
  } catch {
    throw new TypeError(`${where}: stored matrix cell is not JSON: ${stored.slice(0, 100)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string'))
    throw new TypeError(`${where}: stored matrix cell must be an object of strings: ${stored.slice(0, 100)}`);
  return value as MatrixCell;
}

/** The cells a `caliper try --matrix a=b ...` choice picks: those with every given value. */
export function cellsMatching(cells: readonly MatrixCell[], choice: Record<string, string>): MatrixCell[] {
  return cells.filter((c) => hasAll(c, choice));
}
