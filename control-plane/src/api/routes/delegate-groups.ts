import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { notFound } from '../../errors.js';
import { GROUP_NAME } from '../../names.js';
import { sealedUses } from '../../security/sealed-refs.js';
import type { GroupKeyRecord, Store } from '../../store/store.js';
import { requireTenant } from '../auth.js';
import { defineOperations } from '../openapi/operation.js';
import { parseInput } from '../parse.js';

export const groupParam = z.object({ name: z.string().regex(GROUP_NAME, 'must be a delegate group name') });
export const keyParam = groupParam.extend({ keyId: z.string().regex(/^[0-9a-f]{16}$/, 'must be a key id (16 hex digits)') });

/**
 * Delegate groups' keys for sealed values. Only public keys are here: the control plane learns them
 * from the delegates' Hello and hands them to clients that seal (attache-delegate seal --api-url).
 */
export function delegateGroupRoutes(app: FastifyInstance, deps: { store: Store }): void {
  /** The group's keys, most recently current first, and the current one: the newest trusted key. */
  const keysOf = async (tenantId: string, group: string): Promise<{ keys: GroupKeyRecord[]; current: GroupKeyRecord }> => {
    const keys = await deps.store.listGroupKeys(tenantId, group);
    if (keys.length === 0) {
      throw notFound('delegate group key', `${group} (no delegate of this group has announced one; start it with ATTACHE_KEY_FILE or ATTACHE_STATE_DIR)`);
    }
    const current = currentKey(keys);
    if (!current) {
      throw notFound('trusted delegate group key', `${group} (its keys wait for approval: POST /v1/delegate-groups/${group}/keys/{keyId}/trust)`);
    }
    return { keys, current };
  };

  app.get('/v1/delegate-groups/:name/public-key', async (request) => {
    const tenant = requireTenant(request);
    const { name } = parseInput(groupParam, request.params, 'path');
    const { keys, current } = await keysOf(tenant.id, name);
    return { tenantId: tenant.id, group: name, current: keyView(current, true), keys: keys.map((k) => keyView(k, k === current)) };
  });

  /**
   * Vouches for a key that was announced without any trusted key of its group (a group whose key
   * was replaced outright, or an impostor: compare the key id with the one the group's operators
   * generated). Once trusted it can become the group's current key.
   */
  const setTrust = (trusted: boolean) => async (request: FastifyRequest) => {
    const tenant = requireTenant(request);
    const { name, keyId } = parseInput(keyParam, request.params, 'path');
    const key = await deps.store.setGroupKeyTrust(tenant.id, name, keyId, trusted);
    if (!key) throw notFound('delegate group key', `${keyId} of group ${name}`);
    request.log.info({ group: name, keyId }, trusted ? 'delegate group key trusted by a tenant admin' : 'delegate group key distrusted by a tenant admin');
    return keyView(key, key.keyId === currentKey(await deps.store.listGroupKeys(tenant.id, name))?.keyId);
  };
  app.post('/v1/delegate-groups/:name/keys/:keyId/trust', setTrust(true));

  /**
   * Withdraws trust (a key that should never have been trusted: an impostor who registered the
   * group name first). It stops being published as current at once; the group then trusts no new
   * key by itself, only keys announced with a key still trusted, or ones an admin trusts.
   */
  app.post('/v1/delegate-groups/:name/keys/:keyId/distrust', setTrust(false));

  /** Which accounts still hold values sealed to a key other than the current one: what to reseal before retiring it. */
  app.get('/v1/delegate-groups/:name/key-usage', async (request) => {
    const tenant = requireTenant(request);
    const { name } = parseInput(groupParam, request.params, 'path');
    const { keys, current } = await keysOf(tenant.id, name);
    const currentKeyId = current.keyId;
    const groupKeyIds = new Set(keys.map((k) => k.keyId));
    const accounts = (await deps.store.listAccounts(tenant.id))
      .map((a) => ({ id: a.id, name: a.name, fields: sealedUses(a.auth, 'auth').filter((u) => groupKeyIds.has(u.keyId)) }))
      .filter((a) => a.fields.length > 0);
    return {
      group: name,
      currentKeyId,
      keys: keys.map((k) => ({ keyId: k.keyId, current: k.keyId === currentKeyId, accounts: accounts.filter((a) => a.fields.some((f) => f.keyId === k.keyId)).map((a) => a.id) })),
      accounts: accounts.map((a) => ({ ...a, stale: a.fields.some((f) => f.keyId !== currentKeyId) })),
      staleAccounts: accounts.filter((a) => a.fields.some((f) => f.keyId !== currentKeyId)).map((a) => a.id),
    };
  });
}

/** The group's current key: the most recently current trusted one (keys come newest first). */
const currentKey = (keys: readonly GroupKeyRecord[]): GroupKeyRecord | undefined => keys.find((k) => k.trusted);

function keyView(k: GroupKeyRecord, current: boolean) {
  return {
    keyId: k.keyId,
    algorithm: k.algorithm,
    publicKey: k.publicKey,
    current,
    trusted: k.trusted,
    firstSeenAt: k.firstSeenAt.toISOString(),
    lastSeenAt: k.lastSeenAt.toISOString(),
  };
}

export const groupKeySchema = z
  .object({
    keyId: z.string(),
    algorithm: z.string(),
    publicKey: z.string(),
    current: z.boolean(),
    trusted: z.boolean(),
    firstSeenAt: z.iso.datetime(),
    lastSeenAt: z.iso.datetime(),
  })
  .meta({ id: 'DelegateGroupKey' });

export const publicKeySchema = z.object({ tenantId: z.string(), group: z.string(), current: groupKeySchema, keys: z.array(groupKeySchema) });

export const keyUsageSchema = z.object({
  group: z.string(),
  currentKeyId: z.string(),
  keys: z.array(z.object({ keyId: z.string(), current: z.boolean(), accounts: z.array(z.string()) })),
  accounts: z.array(
    z.object({ id: z.string(), name: z.string(), fields: z.array(z.object({ path: z.string(), keyId: z.string() })), stale: z.boolean() }),
  ),
  staleAccounts: z.array(z.string()),
});

export const delegateGroupOperations = defineOperations([
  {
    method: 'GET', path: '/v1/delegate-groups/:name/public-key', operationId: 'getDelegateGroupPublicKey', tag: 'delegate-groups',
    summary: "The group's current key for sealing values, and its other keys.", params: groupParam,
    responses: { 200: { description: 'The keys.', schema: publicKeySchema } }, errors: [404],
  },
  {
    method: 'POST', path: '/v1/delegate-groups/:name/keys/:keyId/trust', operationId: 'trustDelegateGroupKey', tag: 'delegate-groups',
    summary: 'Vouch for a key announced without a trusted key of its group.', params: keyParam,
    responses: { 200: { description: 'The key, trusted.', schema: groupKeySchema } }, errors: [404],
  },
  {
    method: 'POST', path: '/v1/delegate-groups/:name/keys/:keyId/distrust', operationId: 'distrustDelegateGroupKey', tag: 'delegate-groups',
    summary: 'Withdraw trust from a key.', params: keyParam,
    responses: { 200: { description: 'The key, distrusted.', schema: groupKeySchema } }, errors: [404],
  },
  {
    method: 'GET', path: '/v1/delegate-groups/:name/key-usage', operationId: 'getDelegateGroupKeyUsage', tag: 'delegate-groups',
    summary: 'Which accounts hold values sealed to which of the group keys.', params: groupParam,
    responses: { 200: { description: 'Key usage.', schema: keyUsageSchema } }, errors: [404],
  },
]);
