/** One column of a table: its header and how a row shows in it. */
export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => unknown;
}

// Widths count what the eye sees: colour escapes take no room.
const ANSI = /\x1b\[[0-9;]*m/g;
const width = (s: string): number => [...s.replace(ANSI, '')].length;

/** A cell as text: nothing is `-`, lists are comma-separated, objects are compact JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(cellText).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value).replace(/\s*\n\s*/g, ' ');
}

/**
 * Columns aligned with two spaces between them, headers in capitals, no borders: the kubectl
 * layout people grep and cut. The last column is not padded, so lines carry no trailing blanks.
 */
export function formatTable<T>(columns: readonly Column<T>[], rows: readonly T[], style: { header?: (s: string) => string } = {}): string {
  const cells = rows.map((row) => columns.map((c) => cellText(c.value(row))));
  const headers = columns.map((c) => c.header.toUpperCase());
  const widths = headers.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i]!))));
  const line = (parts: string[], decorate: (s: string) => string = (s) => s) =>
    parts.map((p, i) => (i === parts.length - 1 ? decorate(p) : decorate(p) + ' '.repeat(widths[i]! - width(p) + 2))).join('');
  return [line(headers, style.header), ...cells.map((r) => line(r))].join('\n') + '\n';
}

/** Label/value pairs for one object, labels aligned. */
export function formatFields(fields: ReadonlyArray<readonly [string, unknown]>, style: { label?: (s: string) => string } = {}): string {
  const w = Math.max(...fields.map(([k]) => width(k)));
  const label = style.label ?? ((s: string) => s);
  return fields.map(([k, v]) => `${label(`${k}:`)}${' '.repeat(w - width(k) + 1)}${cellText(v)}`).join('\n') + '\n';
}
