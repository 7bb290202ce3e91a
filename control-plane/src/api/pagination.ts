import { z } from 'zod';
import { AppError, ErrorCode } from '../errors.js';

/**
 * Cursor pagination, the same on every list route: `?limit=&cursor=` in, `{items, nextCursor}` out,
 * `nextCursor` null on the last page. A cursor is opaque to clients (base64url JSON naming its list
 * and the last row's sort key and id), so the sort key can change without breaking them, and a
 * cursor from one list is refused by another.
 */
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export const pageQueryShape = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE).meta({ description: `Items per page, 1-${MAX_PAGE_SIZE}.` }),
  cursor: z.string().min(1).max(1024).optional().meta({ description: 'The `nextCursor` of the previous page; absent for the first page.' }),
};
export const pageQuery = z.object(pageQueryShape).strict();

export const nextCursorSchema = z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page.' });

/** Where a page starts: after the row with this sort key and id. */
export interface PageStart {
  key: string;
  id: string;
}

const cursorBody = z.object({ l: z.string(), k: z.string(), i: z.string() }).strict();

export function encodeCursor(list: string, after: PageStart): string {
  return Buffer.from(JSON.stringify({ l: list, k: after.key, i: after.id })).toString('base64url');
}

/** The start a client's cursor stands for, or undefined for the first page. */
export function decodeCursor(list: string, cursor: string | undefined): PageStart | undefined {
  if (cursor === undefined) return undefined;
  let body: z.infer<typeof cursorBody> | undefined;
  try {
    const parsed = cursorBody.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    body = parsed.success ? parsed.data : undefined;
  } catch {
    body = undefined;
  }
  if (!body || body.l !== list) throw notThisList(list);
  return { key: body.k, id: body.i };
}

/** The same for a list ordered by a time (the key is an ISO timestamp). */
export function decodeTimeCursor(list: string, cursor: string | undefined): { key: Date; id: string } | undefined {
  const start = decodeCursor(list, cursor);
  if (!start) return undefined;
  const key = new Date(start.key);
  if (Number.isNaN(key.getTime())) throw notThisList(list);
  return { key, id: start.id };
}

function notThisList(list: string): AppError {
  const message = `cursor is not one this list returned; pass the nextCursor of a previous page of ${list}, or omit it for the first page`;
  return new AppError(ErrorCode.VALIDATION_FAILED, `Invalid query: ${message}.`, { issues: [{ path: 'cursor', message }] });
}

/**
 * A page from rows fetched with `limit + 1`: the extra row only says that another page exists, so
 * the last page never ends with a cursor to an empty one.
 */
export function pageOf<R>(list: string, rows: readonly R[], limit: number, startOf: (row: R) => PageStart): { items: R[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(list, startOf(last)) : null };
}

/** The same page of a list held in memory, sorted by `startOf(row).key` then id. */
export function pageInMemory<R>(list: string, sorted: readonly R[], query: { limit: number; cursor?: string | undefined }, startOf: (row: R) => PageStart): { items: R[]; nextCursor: string | null } {
  const after = decodeCursor(list, query.cursor);
  const rest = after
    ? sorted.filter((r) => {
        const s = startOf(r);
        return s.key > after.key || (s.key === after.key && s.id > after.id);
      })
    : sorted;
  return pageOf(list, rest.slice(0, query.limit + 1), query.limit, startOf);
}
