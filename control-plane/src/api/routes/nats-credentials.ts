import { NATS_CREDENTIALS_PATH } from '@attache/proto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { NatsCredentialIssuer } from '../../carriers/nats-credentials.js';
import { bearer } from '../auth.js';
import { parseInput } from '../parse.js';

const body = z.object({ publicKey: z.string().min(1).max(64) }).strict();

/**
 * A NATS delegate's first call: its delegate token (not a tenant API key) buys a short-lived user
 * JWT for the public key it generated, confined to one session's subjects under its tenant.
 */
export function natsCredentialRoutes(app: FastifyInstance, issuer: NatsCredentialIssuer): void {
  app.post(NATS_CREDENTIALS_PATH, { config: { auth: 'delegate', noStore: true } }, async (request, reply) => {
    const { publicKey } = parseInput(body, request.body, 'NATS credentials request');
    return reply.code(201).send(await issuer.issue(bearer(request), publicKey));
  });
}
