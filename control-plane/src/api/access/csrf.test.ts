import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { csrfTokenFor } from '../../identity/session-service.js';
import { checkCsrf } from './csrf.js';

const secret = 'ats_session-secret-one';
const token = csrfTokenFor(secret);

function refusal(fn: () => void): AppError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err as AppError;
  }
}

describe('CSRF double-submit check', () => {
  it('lets safe methods through without a token', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) expect(refusal(() => checkCsrf(method, secret, undefined, undefined))).toBeUndefined();
  });

  it('accepts a state-changing request whose header equals the cookie and belongs to the session', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) expect(refusal(() => checkCsrf(method, secret, token, token))).toBeUndefined();
  });

  it('refuses a missing header, a missing cookie, a mismatch, and a matching pair made for another session', () => {
    const other = csrfTokenFor('ats_session-secret-two');
    const cases: Array<[string | undefined, string | undefined]> = [
      [token, undefined],
      [undefined, token],
      [token, `${token.slice(0, -1)}x`],
      [token, token.slice(0, -1)],
      [other, other],
    ];
    for (const [cookie, header] of cases) {
      const err = refusal(() => checkCsrf('POST', secret, cookie, header));
      expect(err).toBeInstanceOf(AppError);
      expect(err?.code).toBe('CSRF_TOKEN_INVALID');
      expect(err?.status).toBe(403);
    }
  });

  it('derives a different, non-reversible token per session', () => {
    expect(csrfTokenFor('ats_a')).not.toBe(csrfTokenFor('ats_b'));
    expect(token).not.toContain(secret);
    expect(token).toMatch(/^[\w-]{43}$/);
  });
});
