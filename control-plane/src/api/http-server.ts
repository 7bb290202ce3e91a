import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Logger } from 'pino';
import { AppError, ErrorCode } from '../errors.js';
import { hashSecret } from '../security/secrets.js';
import type { TenantService } from '../tenancy/tenant-service.js';
import { authenticate, bearer } from './auth.js';
import { OPENAPI_PATH } from './openapi/operations.js';
import type { IncomingMessage } from 'node:http';

/** Request bodies are small descriptions; anything larger is refused before it is parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpServerOptions {
  log: Logger;
  operatorKey: string;
  tenants: TenantService;
  rateLimitPerSecond: number;
  /** Unauthenticated probes and metrics. */
  health: { ready: () => Promise<{ ready: boolean; checks: Record<string, string> }>; metrics: () => Promise<{ contentType: string; body: string }> };
}

/**
 * The REST API (Fastify): authentication for every /v1 route, one error shape everywhere
 * (`{error: {code, message, details}}`), per-key rate limits and a body size limit.
 */
export async function createHttpServer(options: HttpServerOptions, routes: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.log.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: MAX_BODY_BYTES,
    // One line per request is written by our onResponse hook (method, path without query, status, time).
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    requestTimeout: 120_000,
    ajv: { customOptions: { removeAdditional: false } },
  });

  await app.register(rateLimit, {
    global: true,
    max: options.rateLimitPerSecond * 2,
    timeWindow: 2_000,
    // Per credential, not per IP: tenants behind one NAT do not share a budget. Hash: never keep keys.
    keyGenerator: (request) => {
      const token = bearer(request);
      return token ? `k:${hashSecret(token).slice(0, 32)}` : `ip:${request.ip}`;
    },
    allowList: (request) => request.url === '/healthz' || request.url === '/readyz',
    errorResponseBuilder: (_request, context) =>
      new AppError(ErrorCode.RATE_LIMITED, `Too many requests: at most ${context.max} per ${context.after}. Retry after ${context.after}.`, {
        retryAfter: context.after,
      }),
  });

  app.addHook('onRequest', async (request) => {
    // /v1/delegate/* authenticate delegates by their delegate token, in the route itself; the API's description is public.
    if (!request.url.startsWith('/v1/') || request.url.startsWith('/v1/delegate/') || request.url.split('?')[0] === OPENAPI_PATH) return;
    request.principal = await authenticate(request, options.operatorKey, options.tenants);
  });

  // A request answered before its body was read (413, 401, 404, 429 with a body attached): read and
  // drop the rest first. Closing while the client is still sending makes its TCP stack reset the
  // connection, and the client then never sees the answer. Bodies past the drain budget are cut off.
  app.addHook('onSend', async (request, _reply, payload) => {
    await drainRequest(request.raw);
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  app.setErrorHandler(async (error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      if (error.code === ErrorCode.RATE_LIMITED) reply.header('retry-after', String(error.details['retryAfter'] ?? '1'));
      return reply.code(error.status).send({ error: error.toJSON() });
    }
    const status = error.statusCode ?? 500;
    if (status === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: { code: ErrorCode.PAYLOAD_TOO_LARGE, message: `The request body is larger than ${MAX_BODY_BYTES} bytes.`, details: { limit: MAX_BODY_BYTES } } });
    }
    if (status === 429) {
      return reply.code(429).send({ error: { code: ErrorCode.RATE_LIMITED, message: 'Too many requests; slow down and retry.', details: {} } });
    }
    if (status >= 400 && status < 500) {
      return reply.code(status === 415 ? 415 : 400).send({
        error: { code: ErrorCode.BAD_REQUEST, message: `The request could not be read: ${error.message}`, details: { fastifyCode: error.code ?? null } },
      });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: { code: ErrorCode.INTERNAL, message: 'Internal error; the control plane logged the details.', details: {} } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: ErrorCode.NOT_FOUND, message: `No route ${request.method} ${request.url.split('?')[0]}.`, details: {} } }),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const r = await options.health.ready();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', checks: r.checks });
  });
  app.get('/metrics', async (_request, reply) => {
    const m = await options.health.metrics();
    return reply.header('content-type', m.contentType).send(m.body);
  });

  routes(app);
  return app;
}

/** Oversized bodies up to this size are read to the end (and discarded) so the client gets its 413. */
const DRAIN_MAX_BYTES = 8 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 5_000;

function drainRequest(req: IncomingMessage): Promise<void> {
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody || req.complete || req.destroyed || Number(length ?? 0) > DRAIN_MAX_BYTES) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_MAX_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    req.resume();
  });
}
