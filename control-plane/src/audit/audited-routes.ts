import { CLI_SIGN_IN_EXCHANGE_PATH } from '@attache/proto';
import type { ActorRecord, AuditEntry } from '../store/audit-records.js';
import type { Role } from '../identity/roles.js';
import type { AuditAction } from './actions.js';

/** What a rule sees of one answered request. */
export interface AuditedRequest {
  actor: ActorRecord;
  params: Record<string, string | undefined>;
  body: Record<string, unknown>;
  /** The JSON answer (the created record, or `{error}`), `{}` when there was none. */
  response: Record<string, unknown>;
  ok: boolean;
  /** A sign-in whose answer is a redirect (the OIDC callback): what it established, from the route. */
  signIn?: SignInNote;
}

/** What a sign-in route tells the trail when its answer carries no JSON: tenant, email, and on success the user. */
export interface SignInNote {
  tenantId?: string;
  email?: string;
  user?: { id: string; email: string; role: Role };
}

export interface AuditRule {
  action: AuditAction;
  /** Recorded instead of `action` when the request failed (a failed sign-in is its own action). */
  failedAction?: AuditAction;
  targetType: string;
  /** Defaults: id from the path (`:id`) or the answer; name from the answer or the body. */
  target?: (r: AuditedRequest) => Pick<AuditEntry['target'], 'id' | 'name'>;
  /** The tenant whose trail it goes to; default the caller's. Operator routes name it in the path. */
  tenant?: (r: AuditedRequest) => string | null | undefined;
  /** Who; default the caller. A sign-in's caller is anonymous until the answer names the user. */
  actor?: (r: AuditedRequest) => ActorRecord;
  /** The request body is recorded as the diff unless false (a sign-in's body is only a password). */
  diff?: false;
  /** Fixed facts about the action (how a person signed in). */
  details?: Record<string, unknown>;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});
const tenantInPath = (r: AuditedRequest) => r.params['id'];

/** A sign-in's caller is anonymous until its answer names the user: then it is that user. */
function signedInActor(r: AuditedRequest): ActorRecord {
  const user = obj(r.response['user']);
  const id = str(user['id']);
  const email = str(user['email']);
  if (!r.ok || !id || !email) return r.actor;
  return { ...r.actor, who: { type: 'user', id, email }, tenantId: str(obj(r.response['tenant'])['id']), role: r.response['role'] as ActorRecord['role'] };
}

/**
 * THE table of what the audit trail records from the API, by the same keys as ROUTE_ACCESS. Every
 * create, update and delete is here; validations and policy listings are recorded when their task
 * ends (audit/task-audit.ts), so they carry the delegate and the final outcome.
 */
export const AUDITED_ROUTES: Readonly<Record<string, AuditRule>> = {
  'POST /v1/aws/accounts': { action: 'account.create', targetType: 'account' },
  'PATCH /v1/aws/accounts/:id': { action: 'account.update', targetType: 'account' },
  'DELETE /v1/aws/accounts/:id': { action: 'account.delete', targetType: 'account' },
  'PUT /v1/aws/accounts/:id/policies': { action: 'account.choose_policies', targetType: 'account' },

  'POST /v1/delegate-tokens': { action: 'token.create', targetType: 'delegate_token' },
  'POST /v1/delegate-tokens/:id/revoke': { action: 'token.revoke', targetType: 'delegate_token' },

  'POST /v1/api-keys': { action: 'api_key.create', targetType: 'api_key' },
  'POST /v1/api-keys/:id/rotate': { action: 'api_key.rotate', targetType: 'api_key' },
  'POST /v1/api-keys/:id/revoke': { action: 'api_key.revoke', targetType: 'api_key' },

  'POST /v1/users': { action: 'user.create', targetType: 'user', target: (r) => ({ id: str(r.response['id']), name: str(r.response['email']) ?? str(r.body['email']) }) },
  'PATCH /v1/users/:id': { action: 'user.update', targetType: 'user', target: (r) => ({ id: r.params['id'] ?? null, name: str(r.response['email']) }) },
  'DELETE /v1/users/:id': { action: 'user.delete', targetType: 'user' },
  'POST /v1/users/:id/sessions/revoke': { action: 'user.end_sessions', targetType: 'user' },

  'POST /v1/delegate-groups/:name/keys/:keyId/trust': {
    action: 'group_key.trust',
    targetType: 'group_key',
    target: (r) => ({ id: r.params['keyId'] ?? null, name: r.params['name'] ?? null }),
  },
  'POST /v1/delegate-groups/:name/keys/:keyId/distrust': {
    action: 'group_key.distrust',
    targetType: 'group_key',
    target: (r) => ({ id: r.params['keyId'] ?? null, name: r.params['name'] ?? null }),
  },

  'POST /v1/tasks': { action: 'task.create', targetType: 'task', target: (r) => ({ id: str(r.response['id']), name: str(r.body['type']) }) },
  // One entry per batch, not per task: the target counts what was created; the tasks are in the task list.
  'POST /v1/tasks/batch': {
    action: 'task.create_batch',
    targetType: 'task_batch',
    diff: false,
    target: (r) => {
      const asked = Array.isArray(r.body['tasks']) ? r.body['tasks'].length : 0;
      return { id: null, name: `${typeof r.response['created'] === 'number' ? r.response['created'] : 0} of ${asked} tasks created` };
    },
  },
  'POST /v1/tasks/:id/cancel': { action: 'task.cancel', targetType: 'task', target: (r) => ({ id: r.params['id'] ?? null, name: str(r.response['type']) }) },

  'POST /v1/tenants': { action: 'tenant.create', targetType: 'tenant', tenant: (r) => str(r.response['id']) },
  'POST /v1/tenants/:id/suspend': { action: 'tenant.suspend', targetType: 'tenant', tenant: tenantInPath },
  'POST /v1/tenants/:id/resume': { action: 'tenant.resume', targetType: 'tenant', tenant: tenantInPath },
  'POST /v1/tenants/:id/admin-credentials': { action: 'tenant.issue_admin_credentials', targetType: 'tenant', tenant: tenantInPath },

  'POST /v1/session': {
    action: 'session.sign_in',
    failedAction: 'session.sign_in_failed',
    targetType: 'user',
    diff: false,
    details: { method: 'password' },
    // A failed sign-in goes to the trail of each tenant where the email is a user (resolved by the hook).
    tenant: (r) => str(obj(r.response['tenant'])['id']),
    target: (r) => ({ id: str(obj(r.response['user'])['id']), name: str(obj(r.response['user'])['email']) ?? str(r.body['email']) }),
    actor: signedInActor,
  },
  // The CLI's browser sign-in: the session it receives (as the user), or the refused code (in the
  // code's tenant when it was found, which the route names through request.actor).
  [`POST ${CLI_SIGN_IN_EXCHANGE_PATH}`]: {
    action: 'session.cli_sign_in',
    failedAction: 'session.cli_sign_in_failed',
    targetType: 'user',
    diff: false,
    tenant: (r) => str(obj(r.response['tenant'])['id']),
    target: (r) => ({ id: str(obj(r.response['user'])['id']), name: str(obj(r.response['user'])['email']) }),
    actor: signedInActor,
  },
  // OIDC sign-in: the callback answers a redirect, so the route notes the tenant, the email and the user (SignInNote).
  'GET /v1/session/oidc/callback': {
    action: 'session.sign_in',
    failedAction: 'session.sign_in_failed',
    targetType: 'user',
    diff: false,
    details: { method: 'oidc' },
    tenant: (r) => r.signIn?.tenantId,
    target: (r) => ({ id: r.signIn?.user?.id ?? null, name: r.signIn?.user?.email ?? r.signIn?.email ?? null }),
    actor: (r) => {
      const user = r.ok ? r.signIn?.user : undefined;
      if (!user || !r.signIn?.tenantId) return r.actor;
      return { ...r.actor, who: { type: 'user', id: user.id, email: user.email }, tenantId: r.signIn.tenantId, role: user.role };
    },
  },
  // The tenant's identity provider; the client secret is only named in the diff (field-diff.ts).
  'PUT /v1/oidc': { action: 'oidc.configure', targetType: 'oidc_provider', target: (r) => ({ id: null, name: str(r.body['issuer']) }) },
  'DELETE /v1/oidc': { action: 'oidc.remove', targetType: 'oidc_provider', diff: false, target: () => ({ id: null, name: null }) },
  'DELETE /v1/session': { action: 'session.sign_out', targetType: 'user', diff: false, target: (r) => (r.actor.who.type === 'user' ? { id: r.actor.who.id, name: r.actor.who.email } : { id: null, name: null }) },
};

export function auditRuleOf(method: string, url: string): AuditRule | undefined {
  return AUDITED_ROUTES[`${method} ${url}`];
}

/** The target of an answered request under its rule. */
export function targetOf(rule: AuditRule, r: AuditedRequest): AuditEntry['target'] {
  if (rule.target) return { type: rule.targetType, ...rule.target(r) };
  const id = r.params['id'] ?? str(r.response['id']);
  const name = str(r.response['name']) ?? str(r.body['name']);
  return { type: rule.targetType, id: id ?? null, name };
}
