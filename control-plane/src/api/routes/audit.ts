import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AUDIT_ACTIONS } from '../../audit/actions.js';
import type { AuditEntry, AuditQuery, AuditStore } from '../../store/audit-records.js';
import { requireTenant } from '../auth.js';
import { parseInput } from '../parse.js';

const filters = {
  /** A user id or email, an API key id or name, or `operator`. */
  actor: z.string().trim().min(1).max(254).optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  /** A target's id or name. */
  target: z.string().trim().min(1).max(254).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  /** Exclusive. */
  until: z.iso.datetime({ offset: true }).optional(),
};

export const auditQuery = z
  .object({ ...filters, cursor: z.string().max(64).optional(), limit: z.coerce.number().int().min(1).max(500).default(50) })
  .strict();
export const auditExportQuery = z.object(filters).strict();

/** Entries per store read while exporting: the export streams, it never holds a whole trail. */
const EXPORT_PAGE = 500;

export function auditEntryView(e: AuditEntry) {
  return {
    id: e.id,
    tenantId: e.tenantId,
    at: e.at.toISOString(),
    actor: e.actor,
    role: e.role,
    clientAddress: e.clientAddress,
    userAgent: e.userAgent,
    action: e.action,
    target: e.target,
    outcome: e.outcome,
    diff: e.diff,
    details: e.details,
  };
}

function storeQuery(tenantId: string, q: z.infer<typeof auditExportQuery>, limit: number): AuditQuery {
  return {
    tenantId,
    limit,
    ...(q.actor !== undefined ? { actor: q.actor } : {}),
    ...(q.action !== undefined ? { action: q.action } : {}),
    ...(q.target !== undefined ? { target: q.target } : {}),
    ...(q.since !== undefined ? { since: new Date(q.since) } : {}),
    ...(q.until !== undefined ? { until: new Date(q.until) } : {}),
  };
}

/** The tenant's audit trail (admin): a paginated view, and a JSON-lines export for a SIEM. */
export function auditRoutes(app: FastifyInstance, audit: AuditStore): void {
  app.get('/v1/audit', async (request) => {
    const tenant = requireTenant(request);
    const q = parseInput(auditQuery, request.query, 'query');
    const items = await audit.list({ ...storeQuery(tenant.id, q, q.limit), ...(q.cursor ? { beforeId: q.cursor } : {}) });
    return { items: items.map(auditEntryView), nextCursor: items.length === q.limit ? items[items.length - 1]!.id : null };
  });

  /** Newest first, one entry per line, read from the store a page at a time as the client reads. */
  app.get('/v1/audit/export', async (request, reply) => {
    const tenant = requireTenant(request);
    const q = parseInput(auditExportQuery, request.query, 'query');
    async function* lines(): AsyncGenerator<string> {
      let beforeId: string | undefined;
      for (;;) {
        const page = await audit.list({ ...storeQuery(tenant.id, q, EXPORT_PAGE), ...(beforeId ? { beforeId } : {}) });
        for (const entry of page) yield `${JSON.stringify(auditEntryView(entry))}\n`;
        if (page.length < EXPORT_PAGE) return;
        beforeId = page[page.length - 1]!.id;
      }
    }
    return reply.header('content-type', 'application/x-ndjson; charset=utf-8').send(Readable.from(lines()));
  });
}
