import type { FastifyInstance } from 'fastify';
import { AUDIT_SUCCESS } from '../audit/actions.js';
import type { AuditLog } from '../audit/audit-log.js';
import { fieldDiff } from '../audit/field-diff.js';
import { auditRuleOf, targetOf, type AuditedRequest } from '../audit/audited-routes.js';
import type { IdentityStore } from '../store/store.js';

const asObject = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

function parsePayload(payload: unknown): Record<string, unknown> {
  if (typeof payload !== 'string' || payload === '') return {};
  try {
    return asObject(JSON.parse(payload));
  } catch {
    return {};
  }
}

/**
 * Records every request to a route of AUDITED_ROUTES, succeeded or failed, from its answer and
 * `request.actor` (set by the access hook). onSend, so the entry is written before the caller sees
 * the answer: a client that reads the trail right after its request finds its entry.
 */
export function installAuditTrail(app: FastifyInstance, deps: { audit: AuditLog; identity: IdentityStore }): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const url = request.routeOptions.url;
    const rule = url === undefined || request.is404 ? undefined : auditRuleOf(request.method, url);
    if (!rule) return payload;
    const ok = reply.statusCode < 400;
    const response = parsePayload(payload);
    const r: AuditedRequest = { actor: request.actor, params: asObject(request.params) as Record<string, string>, body: asObject(request.body), response, ok };
    const actor = rule.actor?.(r) ?? r.actor;
    const action = !ok && rule.failedAction ? rule.failedAction : rule.action;
    const outcome = ok ? AUDIT_SUCCESS : String(asObject(response['error'])['code'] ?? `HTTP_${reply.statusCode}`);
    const target = targetOf(rule, r);
    const diff = rule.diff === false ? {} : fieldDiff(r.body);
    let tenants = [rule.tenant?.(r) ?? actor.tenantId].filter((t): t is string => typeof t === 'string');
    if (tenants.length === 0 && action === 'session.sign_in_failed') tenants = await signInTenants(deps.identity, r.body);
    // A request no tenant can be named for (no credentials, an email no tenant has) stays in the log only.
    for (const tenantId of tenants) {
      await deps.audit.record({ tenantId, actor, action, target, outcome, diff });
    }
    return payload;
  });
}

/** The tenants where a failed sign-in's email is a user (narrowed to the tenant it named, by id or name). */
async function signInTenants(identity: IdentityStore, body: Record<string, unknown>): Promise<string[]> {
  const email = typeof body['email'] === 'string' ? body['email'].trim().toLowerCase() : '';
  if (!email) return [];
  const named = typeof body['tenant'] === 'string' ? body['tenant'].trim() : undefined;
  const found = await identity.findUsersByEmail(email);
  return found.filter(({ tenant }) => named === undefined || tenant.id === named || tenant.name === named).map(({ tenant }) => tenant.id);
}
