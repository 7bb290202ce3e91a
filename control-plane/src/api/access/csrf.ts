import { timingSafeEqual } from 'node:crypto';
import { AppError, ErrorCode } from '../../errors.js';
import { csrfTokenFor } from '../../identity/session-service.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Double-submit check for requests authenticated by the session cookie: the X-CSRF-Token header
 * must equal the CSRF cookie, and both must be the token of this very session (so a cookie planted
 * from a sibling domain does not pass). Bearer-authenticated requests need none: a browser never
 * attaches a bearer key by itself.
 */
export function checkCsrf(method: string, sessionSecret: string, cookie: string | undefined, header: string | string[] | undefined): void {
  if (SAFE_METHODS.has(method)) return;
  const sent = Array.isArray(header) ? header[0] : header;
  if (!sent || !cookie || !same(sent, cookie) || !same(sent, csrfTokenFor(sessionSecret))) {
    throw new AppError(
      ErrorCode.CSRF_TOKEN_INVALID,
      'A request signed in by cookie that changes something must carry the attache_csrf cookie value in the X-CSRF-Token header.',
      { header: 'X-CSRF-Token', cookie: 'attache_csrf' },
    );
  }
}
