import type { z } from 'zod';

/**
 * One route as the OpenAPI document describes it, declared next to the zod schemas its handler
 * validates with (each route file exports its list), so the document and the validation cannot
 * drift apart. Who may call it is not declared here: the document reads ROUTE_ACCESS
 * (api/access/route-access.ts), the table access control enforces, and adds the error responses
 * every route of that access level can give.
 */
export interface ApiOperation {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify's syntax: `/v1/tasks/:id`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: ApiTag;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Success responses, and errors this route gives beyond the common ones (`errors` lists those by status). */
  responses: Record<number, ApiResponse>;
  /** Statuses of `{error}` responses particular to this route (404, 409, ...). */
  errors?: number[];
}

export interface ApiResponse {
  description: string;
  /** JSON body; absent for an empty body (204). */
  schema?: z.ZodType;
  /** Another media type than application/json (then `schema` describes it as a string). */
  contentType?: string;
  /** More media types the same status can answer with, chosen by the request (a `format` query). */
  alternatives?: Record<string, z.ZodType>;
}

export const API_TAGS = {
  tenants: 'Tenants (operator key)',
  identity: 'Sign-in, users and API keys',
  tasks: 'Tasks and the queue',
  delegates: 'Delegates, their tokens and gateways',
  'delegate-groups': "Delegate groups' keys for sealed values",
  aws: 'AWS accounts, policies and role setup',
  audit: 'The audit trail',
  'delegate-api': 'Called by delegates with their delegate token',
  meta: 'Probes, metrics and this document',
} as const;
export type ApiTag = keyof typeof API_TAGS;

/** Typed identity: lets a route file declare its operations with checking and completion. */
export const defineOperations = (ops: ApiOperation[]): ApiOperation[] => ops;
