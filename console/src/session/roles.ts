/** The API's roles in order (control-plane/src/identity/roles.ts); the UI hides what a role may not do, the API refuses it anyway. */
export const ROLES = ['viewer', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleAtLeast(role: string, needed: Role): boolean {
  return ROLES.indexOf(role as Role) >= ROLES.indexOf(needed);
}
