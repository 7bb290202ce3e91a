import { NATS_CREDENTIALS_PATH } from '@attache/proto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { NatsCredentialIssuer } from '../../carriers/nats-credentials.js';
import { bearer } from '../auth.js';
import { defineOperations } from '../openapi/operation.js';
import { parseInput } from '../parse.js';

export const natsCredentialsBody = z.object({ publicKey: z.string().min(1).max(64) }).strict();

/**
 * A NATS delegate's first call: its delegate token (not a tenant API key) buys a short-lived user
 * JWT for the public key it generated, confined to one session's subjects under its tenant.
 */
export function natsCredentialRoutes(app: FastifyInstance, issuer: NatsCredentialIssuer): void {
  // Not under the per-key rate limit: one token is shared by a whole fleet (one deployment, many
  // pods), which after a restart would all be refused at once and come back together. The issuer's
  // handshake pacer is this route's limit; the failed-authentication limit still comes first.
  app.post(NATS_CREDENTIALS_PATH, { config: { noStore: true, rateLimit: false } }, async (request, reply) => {
    const { publicKey } = parseInput(natsCredentialsBody, request.body, 'NATS credentials request');
    return reply.code(201).send(await issuer.issue(bearer(request), publicKey));
  });
}

export const natsCredentialsSchema = z.object({
  jwt: z.string().meta({ description: 'A NATS user JWT for the public key, confined to one session’s subjects.' }),
  expiresAt: z.iso.datetime(),
  subjects: z.object({ connect: z.string(), up: z.string(), down: z.string(), inboxPrefix: z.string() }),
});

export const natsCredentialOperations = defineOperations([
  {
    method: 'POST', path: NATS_CREDENTIALS_PATH, operationId: 'issueNatsCredentials', tag: 'delegate-api',
    summary: 'A NATS delegate trades its delegate token for a short-lived user JWT.',
    description: 'Served only when the control plane has a NATS signing key (ATTACHE_NATS_SIGNING_SEED).',
    body: natsCredentialsBody,
    responses: { 201: { description: 'The credentials.', schema: natsCredentialsSchema } },
    // A suspended tenant's delegates get no credentials; a call past the replica's handshake pacing
    // is told when to come back (HANDSHAKE_PACED, Retry-After and details.retryAfterMs).
    errors: [403, 503],
  },
]);
