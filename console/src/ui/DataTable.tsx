import type { ReactNode } from 'react';
import { Button } from './components.js';

/** One column: its header and what a row shows in it. */
export interface Column<T> {
  header: ReactNode;
  cell: (row: T) => ReactNode;
}

/**
 * The console's list table: a labelled table (the label is its accessible name, which tests and
 * screen readers use), column headers, one row per item, scrolling sideways on a narrow screen.
 */
export function DataTable<T>({ label, columns, rows, rowKey }: { label: string; columns: ReadonlyArray<Column<T>>; rows: readonly T[]; rowKey: (row: T) => string }) {
  return (
    <div className="table-wrap">
      <table aria-label={label}>
        <thead>
          <tr>
            {columns.map((c, i) => (
              <th key={i} scope="col">
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)}>
              {columns.map((c, i) => (
                <td key={i}>{c.cell(row)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The last column of a list whose items can be revoked: "Revoke" where `canRevoke` allows it. */
export function revokeColumn<T>(canRevoke: (row: T) => boolean, onRevoke: (row: T) => void): Column<T> {
  return {
    header: <span className="muted">Actions</span>,
    cell: (row) =>
      canRevoke(row) && (
        <Button variant="danger" onClick={() => onRevoke(row)}>
          Revoke
        </Button>
      ),
  };
}
