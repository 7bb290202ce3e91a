import { AppError, ErrorCode } from '../errors.js';
import { ROLES, type Role } from './roles.js';

/** What a tenant's provider settings say about a person, read from a validated ID token. */
export interface ClaimRules {
  allowedEmailDomains: readonly string[];
  roleClaim: string;
  roleMapping: Readonly<Record<string, Role>>;
  defaultRole: Role | null;
}

export interface Person {
  email: string;
  name: string;
  role: Role;
}

/**
 * The person an ID token describes, or why they may not sign in: the email must be verified by the
 * provider and in one of the tenant's domains (compared as the whole part after the last `@`, so
 * `example.com.evil.net` and `evil-example.com` do not pass for `example.com`); the role is the
 * highest one any value of the role claim maps to, else the default role.
 */
export function personFromClaims(claims: Record<string, unknown>, rules: ClaimRules): Person {
  const email = typeof claims['email'] === 'string' ? claims['email'].trim().toLowerCase() : '';
  if (!email.includes('@')) {
    throw new AppError(ErrorCode.OIDC_EMAIL_NOT_ALLOWED, 'The identity provider sent no email for this person: request the "email" scope and claim.', {});
  }
  if (claims['email_verified'] !== true) {
    throw new AppError(ErrorCode.OIDC_EMAIL_UNVERIFIED, `The identity provider has not verified the email ${email}; verify it there, then sign in again.`, { email });
  }
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (!rules.allowedEmailDomains.includes(domain)) {
    throw new AppError(
      ErrorCode.OIDC_EMAIL_NOT_ALLOWED,
      `The email domain "${domain}" is not one this tenant allows (${rules.allowedEmailDomains.join(', ')}); a tenant admin can add it with PUT /v1/oidc.`,
      { email, domain, allowedEmailDomains: rules.allowedEmailDomains },
    );
  }
  const role = roleFromClaim(claims[rules.roleClaim], rules.roleMapping) ?? rules.defaultRole;
  if (!role) {
    throw new AppError(
      ErrorCode.OIDC_ROLE_UNMAPPED,
      `None of this person's "${rules.roleClaim}" values maps to a role, and the tenant has no default role; a tenant admin can add a mapping with PUT /v1/oidc.`,
      { email, roleClaim: rules.roleClaim },
    );
  }
  const name = typeof claims['name'] === 'string' && claims['name'].trim() ? claims['name'].trim().slice(0, 128) : email;
  return { email, name, role };
}

function roleFromClaim(value: unknown, mapping: Readonly<Record<string, Role>>): Role | null {
  const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  let best: Role | null = null;
  for (const v of values) {
    const role = Object.hasOwn(mapping, v) ? mapping[v] : undefined;
    if (role && (best === null || ROLES.indexOf(role) > ROLES.indexOf(best))) best = role;
  }
  return best;
}

/**
 * Where a browser may be sent after sign-in: a path on this origin only. Anything that a browser
 * would read as another origin (`//host`, `/\host`, a scheme, control characters) is refused, not
 * silently replaced, so a bad link is noticed.
 */
export function safeReturnTo(value: string | undefined): string {
  if (value === undefined || value === '') return '/';
  const base = 'http://attache.invalid';
  const ok =
    value.length <= 1024 &&
    value.startsWith('/') &&
    !value.startsWith('//') &&
    !/[\\\u0000-\u001f\u007f]/.test(value) &&
    URL.canParse(value, base) &&
    new URL(value, base).origin === base;
  if (!ok) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, 'returnTo must be a path on this site (starting with a single "/"), not another address.', {
      issues: [{ path: 'returnTo', message: 'expected a same-origin path' }],
    });
  }
  return value;
}
