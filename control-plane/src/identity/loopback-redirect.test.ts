import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { loopbackRedirect } from './loopback-redirect.js';

describe('loopbackRedirect (RFC 8252 §7.3)', () => {
  it.each([
    ['http://127.0.0.1:53123/callback', 'http://127.0.0.1:53123/callback'],
    ['http://[::1]:8/cb', 'http://[::1]:8/cb'],
    ['http://localhost:65535/', 'http://localhost:65535/'],
    ['http://LOCALHOST:4000/x?y=1', 'http://localhost:4000/x?y=1'],
    ['http://127.0.0.1/callback', 'http://127.0.0.1/callback'],
  ])('accepts %s on any port', (raw, normalised) => {
    expect(loopbackRedirect(raw)).toBe(normalised);
  });

  it.each([
    ['https://127.0.0.1:53123/callback', 'scheme'],
    ['attache://callback', 'scheme'],
    ['http://evil.example:53123/callback', 'host'],
    ['http://127.0.0.1.evil.example/callback', 'host'],
    ['http://127.0.0.1:80@evil.example/callback', 'host'],
    ['http://10.0.0.5:53123/callback', 'host'],
    ['http://0.0.0.0:53123/callback', 'host'],
    ['http://user:pw@127.0.0.1:53123/callback', 'userinfo'],
    ['http://127.0.0.1:53123/callback#frag', 'fragment'],
    ['not a url', 'malformed'],
  ])('refuses %s (%s)', (raw, reason) => {
    let caught: unknown;
    try {
      loopbackRedirect(raw);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect(caught).toMatchObject({ code: 'OIDC_REDIRECT_NOT_LOOPBACK', status: 400, details: { reason } });
  });
});
