import type { Role } from '../identity/roles.js';

/**
 * The party behind an action, as the audit trail records it: a user (id and email), an API key (id
 * and name), the operator, or nobody yet (a failed sign-in). The API's access hook builds it once per
 * request; a task keeps the one that asked for it, so its end is recorded against the same party.
 */
export interface ActorRecord {
  who: { type: 'user'; id: string; email: string } | { type: 'apiKey'; id: string; name: string } | { type: 'operator' } | { type: 'anonymous' };
  tenantId: string | null;
  role: Role | 'operator' | null;
  clientAddress: string;
  userAgent: string | null;
}

/** What an entry's field diff says about one field: its new value, or only that it changed and what kind of secret it holds. */
export type FieldChange = { changed: true; to: unknown } | { changed: true; kind: 'reference' | 'sealed' | 'secret' };

/** One line of a tenant's audit trail. Entries are only ever appended (and deleted by retention). */
export interface AuditEntry {
  /** Time-sortable (ids.ts), so id order is time order and the cursor. */
  id: string;
  tenantId: string;
  at: Date;
  actor: ActorRecord['who'];
  role: ActorRecord['role'];
  clientAddress: string | null;
  userAgent: string | null;
  /** One of AUDIT_ACTIONS (audit/actions.ts). */
  action: string;
  target: { type: string; id: string | null; name: string | null };
  /** `success`, or the error code the action ended with. */
  outcome: string;
  /** Changed fields by dotted path; secret-shaped values are never present, only their kind. */
  diff: Record<string, FieldChange>;
  /** Facts of the action beyond its target (the delegate that ran a validation, the task id). */
  details: Record<string, unknown>;
}

export interface AuditQuery {
  tenantId: string;
  /** Matches the actor's id, email or API key name, or `operator`. */
  actor?: string;
  action?: string;
  /** Matches the target's id or name. */
  target?: string;
  since?: Date;
  /** Exclusive. */
  until?: Date;
  /** Only entries with an id strictly before this one (newest first). */
  beforeId?: string;
  limit: number;
}

/** The audit part of the Store. There is deliberately no update and no delete but retention's. */
export interface AuditStore {
  append(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  list(query: AuditQuery): Promise<AuditEntry[]>;
  /** Deletes up to `limit` entries (any tenant) older than `before`; returns how many. */
  deleteOlderThan(before: Date, limit: number): Promise<number>;
}

/** The key the `actor` filter matches: every identifier of the actor, space separated. */
export function actorKeys(actor: ActorRecord['who']): string[] {
  switch (actor.type) {
    case 'user':
      return [actor.id, actor.email];
    case 'apiKey':
      return [actor.id, actor.name];
    default:
      return [actor.type];
  }
}
