import { AppError, ErrorCode } from '../errors.js';
import type { Tenant } from '../store/records.js';

/** The one rule for suspension: keys, sessions and delegates of a suspended tenant are all refused. */
export function tenantActive(tenant: Tenant): void {
  if (tenant.status === 'suspended') {
    throw new AppError(ErrorCode.TENANT_SUSPENDED, `The tenant "${tenant.name}" is suspended; ask the operator to resume it.`, {
      tenantId: tenant.id,
    });
  }
}
