/** Plain text tables for a terminal: a header row, columns padded to their widest cell. */
export type Align = 'left' | 'right';

export interface Column<T> {
  header: string;
  cell: (row: T) => string;
  align?: Align;
}

export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => c.cell(row)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => [...(r[i] ?? '')].length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => {
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - [...v].length));
        return columns[i]?.align === 'right' ? pad + v : v + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}
