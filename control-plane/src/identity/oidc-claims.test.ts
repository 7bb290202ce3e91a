import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { personFromClaims, safeReturnTo, type ClaimRules } from './oidc-claims.js';

const rules: ClaimRules = {
  allowedEmailDomains: ['example.com'],
  roleClaim: 'groups',
  roleMapping: { admins: 'admin', devs: 'editor', everyone: 'viewer' },
  defaultRole: null,
};

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? err.code : 'not an AppError';
  }
  return undefined;
}

describe('personFromClaims', () => {
  it('takes the highest mapped role among the claim values, and the name', () => {
    expect(personFromClaims({ email: 'Ann@Example.com', email_verified: true, name: 'Ann', groups: ['everyone', 'admins', 'devs'] }, rules)).toEqual({
      email: 'ann@example.com',
      name: 'Ann',
      role: 'admin',
    });
    expect(personFromClaims({ email: 'b@example.com', email_verified: true, groups: 'devs' }, rules)).toEqual({ email: 'b@example.com', name: 'b@example.com', role: 'editor' });
  });

  it('falls back to the default role, or refuses without one', () => {
    expect(code(() => personFromClaims({ email: 'c@example.com', email_verified: true, groups: ['other', 'toString'] }, rules))).toBe('OIDC_ROLE_UNMAPPED');
    expect(personFromClaims({ email: 'c@example.com', email_verified: true }, { ...rules, defaultRole: 'viewer' }).role).toBe('viewer');
  });

  it('refuses unverified emails and domains that only look like an allowed one', () => {
    expect(code(() => personFromClaims({ email: 'a@example.com', groups: 'admins' }, rules))).toBe('OIDC_EMAIL_UNVERIFIED');
    expect(code(() => personFromClaims({ email: 'a@example.com', email_verified: 'true', groups: 'admins' }, rules))).toBe('OIDC_EMAIL_UNVERIFIED');
    for (const email of ['a@example.com.evil.net', 'a@evil-example.com', 'a@sub.example.com', 'example.com@evil.net', 'no-at-sign']) {
      expect(code(() => personFromClaims({ email, email_verified: true, groups: 'admins' }, rules)), email).toBe('OIDC_EMAIL_NOT_ALLOWED');
    }
  });
});

describe('safeReturnTo', () => {
  it('keeps same-origin paths and refuses everything a browser would take elsewhere', () => {
    expect(safeReturnTo(undefined)).toBe('/');
    expect(safeReturnTo('/console/accounts?x=1#y')).toBe('/console/accounts?x=1#y');
    for (const bad of ['//evil.example', '/\\evil.example', 'https://evil.example/', 'javascript:alert(1)', 'console', '/\tfoo', '\\\\evil']) {
      expect(code(() => safeReturnTo(bad)), bad).toBe('VALIDATION_FAILED');
    }
    // Percent-encoded characters stay part of a path on this origin.
    expect(safeReturnTo('/%0a')).toBe('/%0a');
  });
});
