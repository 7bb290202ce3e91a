import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AUDIT_ACTIONS } from '../../audit/actions.js';
import type { AuditEntry, AuditQuery, AuditStore } from '../../store/audit-records.js';
import { requireTenant } from '../auth.js';
import { defineOperations } from '../openapi/operation.js';
import { decodeCursor, nextCursorSchema, pageOf, pageQueryShape } from '../pagination.js';
import { parseInput } from '../parse.js';

const filters = {
  actor: z.string().trim().min(1).max(254).optional().meta({ description: 'A user id or email, an API key id or name, or `operator`.' }),
  action: z.enum(AUDIT_ACTIONS).optional().meta({ description: 'One action name.' }),
  target: z.string().trim().min(1).max(254).optional().meta({ description: "A target's id or name." }),
  since: z.iso.datetime({ offset: true }).optional().meta({ description: 'Entries at or after this time (ISO 8601).' }),
  until: z.iso.datetime({ offset: true }).optional().meta({ description: 'Entries before this time (ISO 8601, exclusive).' }),
};

export const auditQuery = z.object({ ...filters, ...pageQueryShape }).strict();
export const auditExportQuery = z.object(filters).strict();

const AUDIT_LIST = 'audit';

const fieldChangeSchema = z.union([
  z.object({ changed: z.literal(true), to: z.unknown() }),
  z.object({ changed: z.literal(true), kind: z.enum(['reference', 'sealed', 'secret']).meta({ description: 'What the secret-shaped value was; the value itself is never kept.' }) }),
]);

export const auditEntrySchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  at: z.string().meta({ description: 'ISO 8601.' }),
  actor: z.union([
    z.object({ type: z.literal('user'), id: z.string(), email: z.string() }),
    z.object({ type: z.literal('apiKey'), id: z.string(), name: z.string() }),
    z.object({ type: z.literal('operator') }),
    z.object({ type: z.literal('anonymous') }),
  ]),
  role: z.enum(['viewer', 'editor', 'admin', 'operator']).nullable(),
  clientAddress: z.string().nullable(),
  userAgent: z.string().nullable(),
  action: z.enum(AUDIT_ACTIONS),
  target: z.object({ type: z.string(), id: z.string().nullable(), name: z.string().nullable() }),
  outcome: z.string().meta({ description: '`success`, or the error code the action ended with.' }),
  diff: z.record(z.string(), fieldChangeSchema).meta({ description: 'The fields the request set, by dotted path.' }),
  details: z.record(z.string(), z.unknown()).meta({ description: 'E.g. a validation\'s taskId, attempt and delegate {id, name}.' }),
});

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
    const after = decodeCursor(AUDIT_LIST, q.cursor);
    const rows = await audit.list({ ...storeQuery(tenant.id, q, q.limit + 1), ...(after ? { beforeId: after.id } : {}) });
    const page = pageOf(AUDIT_LIST, rows, q.limit, (e) => ({ key: e.id, id: e.id }));
    return { items: page.items.map(auditEntryView), nextCursor: page.nextCursor };
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

export const auditOperations = defineOperations([
  {
    method: 'GET', path: '/v1/audit', operationId: 'listAuditEntries', tag: 'audit',
    summary: "The tenant's audit trail, newest first.", query: auditQuery,
    responses: { 200: { description: 'One page of entries.', schema: z.object({ items: z.array(auditEntrySchema), nextCursor: nextCursorSchema }) } },
  },
  {
    method: 'GET', path: '/v1/audit/export', operationId: 'exportAuditEntries', tag: 'audit',
    summary: 'Every matching entry as JSON lines (one entry per line, newest first), streamed for a SIEM.', query: auditExportQuery,
    responses: { 200: { description: 'The entries, one JSON object (an audit entry) per line.', schema: z.string(), contentType: 'application/x-ndjson' } },
  },
]);
