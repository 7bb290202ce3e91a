import { AppError, ErrorCode } from '../errors.js';

/** The hosts a native app's loopback redirect may name (RFC 8252 §7.3; `localhost` as §8.3 tolerates it). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/**
 * THE rule for where a CLI sign-in may send its one-time code: `http://` to a loopback host, any
 * port, a path, no user info and no fragment. Anything else could hand the code to another
 * machine, so it is refused with OIDC_REDIRECT_NOT_LOOPBACK before the provider is involved.
 * Returns the URL in its normalised form, the one the exchange must repeat.
 */
export function loopbackRedirect(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse(raw, 'malformed');
  }
  if (url.protocol !== 'http:') throw refuse(raw, 'scheme');
  if (!LOOPBACK_HOSTS.has(url.hostname)) throw refuse(raw, 'host');
  if (url.username !== '' || url.password !== '') throw refuse(raw, 'userinfo');
  if (url.hash !== '' || raw.includes('#')) throw refuse(raw, 'fragment');
  return url.href;
}

function refuse(raw: string, reason: 'malformed' | 'scheme' | 'host' | 'userinfo' | 'fragment'): AppError {
  return new AppError(
    ErrorCode.OIDC_REDIRECT_NOT_LOOPBACK,
    'redirectUri must be a loopback address on this machine, http://127.0.0.1:PORT/..., http://[::1]:PORT/... or http://localhost:PORT/... (no user info, no fragment); the attache CLI makes one itself.',
    { reason, redirectUri: raw.slice(0, 200) },
  );
}
