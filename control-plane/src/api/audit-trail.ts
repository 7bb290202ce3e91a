import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actorOf } from './access/principal.js';
import { AUDIT_SUCCESS } from '../audit/actions.js';
import type { AuditLog } from '../audit/audit-log.js';
import { fieldDiff } from '../audit/field-diff.js';
import { auditRuleOf, targetOf, type AuditedRequest, type AuditRule, type SignInNote } from '../audit/audited-routes.js';
import type { IdentityStore } from '../store/store.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a sign-in route whose answer is a redirect (the OIDC callback), for its audit entry. */
    signInNote?: SignInNote;
  }
}

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
  app.decorateRequest('signInNote', undefined);
  app.addHook('onSend', async (request, reply, payload) => {
    const url = request.routeOptions.url;
    const rule = url === undefined || request.is404 ? undefined : auditRuleOf(request.method, url);
    if (!rule) return payload;
    try {
      await record(rule, request, reply.statusCode, payload);
    } catch (err) {
      // The answer goes out whatever happens here; the failure is logged loudly.
      request.log.error({ err, action: rule.action }, 'failed to record an audit entry');
    }
    return payload;
  });

  async function record(rule: AuditRule, request: FastifyRequest, status: number, payload: unknown): Promise<void> {
    const ok = status < 400;
    const response = parsePayload(payload);
    // Answered before the access hook ran (the rate limiter): nobody is identified yet.
    const caller = request.actor ?? actorOf(undefined, { address: request.ip, userAgent: request.headers['user-agent'] ?? null });
    const r: AuditedRequest = { actor: caller, params: asObject(request.params) as Record<string, string>, body: asObject(request.body), response, ok, ...(request.signInNote ? { signIn: request.signInNote } : {}) };
    const actor = rule.actor?.(r) ?? r.actor;
    const action = !ok && rule.failedAction ? rule.failedAction : rule.action;
    const outcome = ok ? AUDIT_SUCCESS : String(asObject(response['error'])['code'] ?? `HTTP_${status}`);
    const target = targetOf(rule, r);
    const diff = rule.diff === false ? {} : fieldDiff(r.body);
    let tenants = [rule.tenant?.(r) ?? actor.tenantId].filter((t): t is string => typeof t === 'string');
    if (tenants.length === 0 && action === 'session.sign_in_failed') tenants = await signInTenants(deps.identity, r.body);
    // A request no tenant can be named for (no credentials, an email no tenant has) stays in the log only.
    for (const tenantId of tenants) {
      await deps.audit.record({ tenantId, actor, action, target, outcome, diff, ...(rule.details ? { details: rule.details } : {}) });
    }
  }
}

/** The tenants where a failed sign-in's email is a user (narrowed to the tenant it named, by id or name). */
async function signInTenants(identity: IdentityStore, body: Record<string, unknown>): Promise<string[]> {
  const email = typeof body['email'] === 'string' ? body['email'].trim().toLowerCase() : '';
  if (!email) return [];
  const named = typeof body['tenant'] === 'string' ? body['tenant'].trim() : undefined;
  const found = await identity.findUsersByEmail(email);
  return found.filter(({ tenant }) => named === undefined || tenant.id === named || tenant.name === named).map(({ tenant }) => tenant.id);
}
