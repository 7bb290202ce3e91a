import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { ROLES, roleAtLeast, type Role } from '../../identity/roles.js';
import type { Tenant } from '../../store/store.js';
import { authorize } from './access-control.js';
import type { Principal } from './principal.js';
import { accessOf, ROUTE_ACCESS, type Access } from './route-access.js';

const tenant: Tenant = { id: 'ten_1', name: 't', externalId: 'x', createdAt: new Date(0), status: 'active', suspendedAt: null };
const keyOf = (role: Role): Principal => ({
  kind: 'tenant',
  tenant,
  role,
  via: {
    type: 'apiKey',
    key: { id: 'key_1', tenantId: 'ten_1', name: 'k', role, prefix: 'atk_', hash: 'h', createdAt: new Date(0), lastUsedAt: null, expiresAt: null, revokedAt: null, previousHash: null, previousValidUntil: null },
  },
});
const operator: Principal = { kind: 'operator' };

function outcome(p: Principal, access: Access): string {
  try {
    authorize(p, access);
    return 'allowed';
  } catch (err) {
    const e = err as AppError;
    return `${e.code}:${String(e.details['requiredRole'])}`;
  }
}

describe('roles and the route access table', () => {
  it('orders roles viewer < editor < admin', () => {
    expect(ROLES).toEqual(['viewer', 'editor', 'admin']);
    expect(roleAtLeast('admin', 'viewer')).toBe(true);
    expect(roleAtLeast('editor', 'editor')).toBe(true);
    expect(roleAtLeast('editor', 'admin')).toBe(false);
    expect(roleAtLeast('viewer', 'editor')).toBe(false);
  });

  it('allows each role exactly the levels at or below it, and names the role needed otherwise', () => {
    expect(outcome(keyOf('viewer'), 'viewer')).toBe('allowed');
    expect(outcome(keyOf('viewer'), 'editor')).toBe('FORBIDDEN:editor');
    expect(outcome(keyOf('viewer'), 'admin')).toBe('FORBIDDEN:admin');
    expect(outcome(keyOf('editor'), 'editor')).toBe('allowed');
    expect(outcome(keyOf('editor'), 'admin')).toBe('FORBIDDEN:admin');
    expect(outcome(keyOf('admin'), 'admin')).toBe('allowed');
    for (const role of ROLES) expect(outcome(keyOf(role), 'operator')).toBe('FORBIDDEN:operator');
  });

  it('keeps the operator to operator routes and out of tenant ones', () => {
    expect(outcome(operator, 'operator')).toBe('allowed');
    expect(outcome(operator, 'signed-in')).toBe('allowed');
    for (const role of ROLES) expect(outcome(operator, role)).toBe(`FORBIDDEN:${role}`);
  });

  it('classifies the routes that matter as intended', () => {
    expect(accessOf('GET', '/v1/aws/accounts')).toBe('viewer');
    expect(accessOf('HEAD', '/v1/aws/accounts')).toBe('viewer');
    expect(accessOf('POST', '/v1/aws/accounts/:id/validate')).toBe('editor');
    expect(accessOf('POST', '/v1/tasks')).toBe('editor');
    expect(accessOf('POST', '/v1/users')).toBe('admin');
    expect(accessOf('POST', '/v1/api-keys/:id/rotate')).toBe('admin');
    expect(accessOf('POST', '/v1/delegate-tokens')).toBe('admin');
    expect(accessOf('POST', '/v1/delegate-groups/:name/keys/:keyId/trust')).toBe('admin');
    expect(accessOf('POST', '/v1/tenants/:id/suspend')).toBe('operator');
    expect(accessOf('POST', '/v1/session')).toBe('sign-in');
    expect(accessOf('GET', '/v1/unknown')).toBeUndefined();
    // Every write to tenant data needs more than viewer: viewer is read only.
    for (const [route, access] of Object.entries(ROUTE_ACCESS)) {
      const method = route.split(' ')[0]!;
      if (method !== 'GET' && (ROLES as readonly string[]).includes(access)) expect(access, route).not.toBe('viewer');
    }
  });
});
