/**
 * Every action the audit trail records, by stable dotted name: THE list (API filters, SIEM rules and
 * the docs rely on these names never changing). Route-driven entries are declared in
 * audit/audited-routes.ts, task-driven ones in audit/task-audit.ts.
 */
export const AUDIT_ACTIONS = [
  'account.create',
  'account.update',
  'account.delete',
  'account.validate',
  'account.list_policies',
  'account.choose_policies',
  'token.create',
  'token.revoke',
  'api_key.create',
  'api_key.rotate',
  'api_key.revoke',
  'user.create',
  'user.update',
  'user.delete',
  'user.end_sessions',
  'group_key.trust',
  'group_key.distrust',
  'task.create',
  'task.create_batch',
  'task.cancel',
  'tenant.create',
  'tenant.suspend',
  'tenant.resume',
  'tenant.issue_admin_credentials',
  'oidc.configure',
  'oidc.remove',
  'session.sign_in',
  'session.sign_in_failed',
  'session.sign_out',
  'session.cli_sign_in',
  'session.cli_sign_in_failed',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** The outcome of an action that did what it was asked; otherwise the outcome is the error code. */
export const AUDIT_SUCCESS = 'success';
