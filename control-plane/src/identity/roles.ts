import { ROLES, type Role } from '../store/identity-records.js';

export { ROLES, type Role };

/** Roles are ordered (viewer < editor < admin): a role can do everything the ones below it can. */
export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}
