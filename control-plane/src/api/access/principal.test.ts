import { describe, expect, it } from 'vitest';
import type { ApiKeyRecord, SessionRecord, Tenant, UserRecord } from '../../store/store.js';
import { actorOf } from './principal.js';

const tenant: Tenant = { id: 'ten_1', name: 'acme', externalId: 'x', createdAt: new Date(0), status: 'active', suspendedAt: null };
const client = { address: '203.0.113.7', userAgent: 'curl/8' };

describe('the actor of a request (what the audit trail records)', () => {
  it('names an API key by id and name, with its role', () => {
    const key = { id: 'key_1', name: 'ci', role: 'editor' } as ApiKeyRecord;
    expect(actorOf({ kind: 'tenant', tenant, role: 'editor', via: { type: 'apiKey', key } }, client)).toEqual({
      who: { type: 'apiKey', id: 'key_1', name: 'ci' },
      tenantId: 'ten_1',
      role: 'editor',
      clientAddress: '203.0.113.7',
      userAgent: 'curl/8',
    });
  });

  it('names a user by id and email, the operator as operator, and no credentials as anonymous', () => {
    const user = { id: 'usr_1', email: 'ann@example.com', role: 'admin' } as UserRecord;
    const session = {} as SessionRecord;
    expect(actorOf({ kind: 'tenant', tenant, role: 'admin', via: { type: 'session', user, session, secret: 's', carrier: 'cookie' } }, client).who).toEqual({
      type: 'user',
      id: 'usr_1',
      email: 'ann@example.com',
    });
    expect(actorOf({ kind: 'operator' }, client)).toMatchObject({ who: { type: 'operator' }, role: 'operator', tenantId: null });
    expect(actorOf(undefined, { address: '::1', userAgent: null })).toEqual({ who: { type: 'anonymous' }, tenantId: null, role: null, clientAddress: '::1', userAgent: null });
  });
});
