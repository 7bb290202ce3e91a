import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'attache_session';
export const CSRF_COOKIE = 'attache_csrf';
export const CSRF_HEADER = 'x-csrf-token';
/** Binds an OIDC sign-in in progress to the browser that started it; sent only to the OIDC routes. */
export const OIDC_BINDING_COOKIE = 'attache_oidc';
const OIDC_COOKIE_PATH = '/v1/session/oidc';

/**
 * Cookie attributes. HttpOnly on the session (scripts never see it), SameSite=Lax (not sent on
 * cross-site subrequests or form posts), Path=/. Secure when the public URL is https
 * (ATTACHE_PUBLIC_URL): the API itself listens in plain HTTP behind a TLS-terminating proxy, and
 * X-Forwarded-Proto is not trusted because any client can send it.
 */
export class SessionCookies {
  constructor(private readonly secure: boolean) {}

  set(reply: FastifyReply, session: { secret: string; csrfToken: string; expiresAt: Date }): void {
    const maxAge = Math.max(0, Math.floor((session.expiresAt.getTime() - Date.now()) / 1000));
    const common = { path: '/', sameSite: 'lax' as const, secure: this.secure, maxAge };
    reply.setCookie(SESSION_COOKIE, session.secret, { ...common, httpOnly: true });
    // Readable by the console's scripts, which echo it in X-CSRF-Token.
    reply.setCookie(CSRF_COOKIE, session.csrfToken, { ...common, httpOnly: false });
  }

  clear(reply: FastifyReply): void {
    const common = { path: '/', sameSite: 'lax' as const, secure: this.secure };
    reply.clearCookie(SESSION_COOKIE, { ...common, httpOnly: true });
    reply.clearCookie(CSRF_COOKIE, { ...common, httpOnly: false });
  }

  /**
   * SameSite=Lax still reaches the callback: the provider sends the browser back with a top-level
   * GET navigation, which Lax cookies accompany.
   */
  setOidcBinding(reply: FastifyReply, secret: string, expiresAt: Date): void {
    const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
    reply.setCookie(OIDC_BINDING_COOKIE, secret, { path: OIDC_COOKIE_PATH, sameSite: 'lax', secure: this.secure, httpOnly: true, maxAge });
  }

  clearOidcBinding(reply: FastifyReply): void {
    reply.clearCookie(OIDC_BINDING_COOKIE, { path: OIDC_COOKIE_PATH, sameSite: 'lax', secure: this.secure, httpOnly: true });
  }

  oidcBinding(request: FastifyRequest): string | undefined {
    return request.cookies[OIDC_BINDING_COOKIE] || undefined;
  }

  session(request: FastifyRequest): string | undefined {
    return request.cookies[SESSION_COOKIE] || undefined;
  }
}
