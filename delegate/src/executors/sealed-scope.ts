import type { RegisterSecret } from '../secrets/resolve.js';
import type { ExecutionContext } from './executor.js';

/**
 * The register function an account-bound executor hands down to secret resolution: it masks like
 * `ctx.registerSecret`, carries the delegate's reference policy, and what opening a sealed value of
 * `accountId` needs. The tenant comes from this delegate's Welcome (its token's tenant), not from
 * the payload.
 */
export function accountSecrets(ctx: ExecutionContext, accountId: string): RegisterSecret {
  const register = Object.assign((value: string) => ctx.registerSecret(value), { references: ctx.policy.references });
  if (ctx.keyring === undefined || ctx.tenantId === undefined || accountId === '') return register;
  return Object.assign(register, { sealed: { keyring: ctx.keyring, tenantId: ctx.tenantId, accountId } });
}
