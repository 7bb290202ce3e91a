import { CLI_SIGN_IN_EXCHANGE_PATH } from '@attache/proto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError, ErrorCode } from '../../errors.js';
import type { OidcConfigService } from '../../identity/oidc-config-service.js';
import { CliCodeRefused, type CliSignIn } from '../../identity/cli-sign-in.js';
import type { OidcSignIn, SignInProgress } from '../../identity/oidc-sign-in.js';
import type { SessionService } from '../../identity/session-service.js';
import { userView, userViewSchema } from '../identity-views.js';
import { ROLES } from '../../identity/roles.js';
import type { OidcConfigRecord } from '../../store/oidc-store.js';
import { requireTenant } from '../auth.js';
import type { SessionCookies } from '../access/session-cookies.js';
import { parseInput } from '../parse.js';
import { defineOperations } from '../openapi/operation.js';

const domain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'expected a domain name such as example.com');

/** PUT /v1/oidc. `clientSecret` absent keeps the stored one; null makes a public (PKCE-only) client. */
export const oidcConfigBody = z
  .object({
    issuer: z.url({ protocol: /^https?$/ }).max(512),
    clientId: z.string().trim().min(1).max(256),
    clientSecret: z.string().min(1).max(1024).nullable().optional(),
    allowedEmailDomains: z.array(domain).min(1).max(50),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/, 'expected a scope token')).max(20).default([]),
    roleClaim: z.string().trim().min(1).max(128).default('groups'),
    roleMapping: z.record(z.string().min(1).max(256), z.enum(ROLES)).default({}),
    defaultRole: z.enum(ROLES).nullable().default(null),
  })
  .strict()
  .refine((c) => Object.keys(c.roleMapping).length <= 200, { message: 'at most 200 role mappings', path: ['roleMapping'] });

/** RFC 7636: the S256 challenge is 43 base64url characters, a verifier 43 to 128 unreserved ones. */
const codeChallenge = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'expected the base64url SHA-256 of the code verifier (43 characters)');
const cliState = z.string().regex(/^[A-Za-z0-9._~-]{16,256}$/, 'expected 16 to 256 URL-safe characters');

export const oidcStartQuery = z
  .object({
    tenant: z.string().trim().min(1).max(128),
    returnTo: z.string().max(1024).optional(),
    redirectUri: z.string().max(512).optional().meta({ description: 'CLI sign-in: the loopback redirect the CLI listens on (http://127.0.0.1:PORT/..., http://[::1]:PORT/... or http://localhost:PORT/...).' }),
    codeChallenge: codeChallenge.optional().meta({ description: "CLI sign-in: the PKCE S256 challenge of the CLI's verifier." }),
    codeChallengeMethod: z.literal('S256').optional(),
    state: cliState.optional().meta({ description: 'CLI sign-in: the CLI\'s own state, echoed to its loopback redirect.' }),
  })
  .strict()
  .refine((q) => (q.redirectUri === undefined) === (q.codeChallenge === undefined) && (q.redirectUri === undefined) === (q.state === undefined), {
    message: 'a CLI sign-in needs redirectUri, codeChallenge and state together',
    path: ['redirectUri'],
  })
  .refine((q) => q.redirectUri === undefined || q.returnTo === undefined, { message: 'returnTo is for console sign-ins; a CLI sign-in returns to redirectUri', path: ['returnTo'] });

/** POST /v1/session/oidc/exchange: the CLI trades its one-time code and verifier for its session. */
export const oidcExchangeBody = z
  .object({
    code: z.string().min(1).max(256),
    codeVerifier: z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/, 'expected the PKCE code verifier (43 to 128 URL-safe characters)'),
    redirectUri: z.string().min(1).max(512),
  })
  .strict();

export const providersQuery = z.object({ tenant: z.string().trim().min(1).max(128).optional() }).strict();

export const oidcCallbackQuery = z.object({
  state: z.string().max(512).optional(),
  code: z.string().max(4096).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(1024).optional(),
  iss: z.string().max(512).optional(),
});

function configView(c: OidcConfigRecord, redirectUri: string | null) {
  return {
    issuer: c.issuer,
    clientId: c.clientId,
    // Write-only: whether one is set, never what it is.
    clientSecretSet: c.clientSecretSealed !== null,
    allowedEmailDomains: c.allowedEmailDomains,
    scopes: c.scopes,
    roleClaim: c.roleClaim,
    roleMapping: c.roleMapping,
    defaultRole: c.defaultRole,
    redirectUri,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

export function oidcRoutes(app: FastifyInstance, deps: { configs: OidcConfigService; signIn: OidcSignIn; cli: CliSignIn; sessions: SessionService; cookies: SessionCookies }): void {
  const redirectUri = (): string | null => {
    try {
      return deps.signIn.redirectUri();
    } catch {
      return null;
    }
  };

  app.get('/v1/oidc', async (request) => {
    const tenant = requireTenant(request);
    return configView(await deps.configs.require(tenant.id), redirectUri());
  });

  app.put('/v1/oidc', async (request) => {
    const tenant = requireTenant(request);
    const body = parseInput(oidcConfigBody, request.body, 'OIDC configuration');
    return configView(await deps.configs.put(tenant.id, body), redirectUri());
  });

  app.delete('/v1/oidc', async (request, reply) => {
    const tenant = requireTenant(request);
    await deps.configs.remove(tenant.id);
    return reply.code(204).send();
  });

  // The sign-in page asks before it offers "Sign in with SSO"; every password works for every tenant.
  app.get('/v1/session/providers', { config: { noStore: true } }, async (request) => {
    const query = parseInput(providersQuery, request.query, 'query');
    return { password: true, oidc: query.tenant ? await deps.signIn.offered(query.tenant) : false };
  });

  app.get('/v1/session/oidc/start', { config: { noStore: true } }, async (request, reply) => {
    const query = parseInput(oidcStartQuery, request.query, 'query');
    const cli = query.redirectUri !== undefined ? deps.cli.binding({ redirectUri: query.redirectUri, codeChallenge: query.codeChallenge!, state: query.state! }) : null;
    const started = await deps.signIn.start(query.tenant, query.returnTo, cli);
    deps.cookies.setOidcBinding(reply, started.browserSecret, started.expiresAt);
    return reply.redirect(started.authorizationUrl, 302);
  });

  app.get('/v1/session/oidc/callback', { config: { noStore: true } }, async (request, reply) => {
    parseInput(oidcCallbackQuery, request.query, 'query');
    const raw = request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '';
    let finished;
    const progress: SignInProgress = {};
    try {
      finished = await deps.signIn.finish(new URLSearchParams(raw), deps.cookies.oidcBinding(request), progress);
    } catch (err) {
      request.signInNote = { ...progress };
      // A sign-in is tried once: its binding is spent, unless the state named none (a forged or
      // replayed link must not break the sign-in this browser has in progress).
      const reason = err instanceof AppError ? err.details['reason'] : undefined;
      if (!(err instanceof AppError && err.code === ErrorCode.OIDC_STATE_INVALID && (reason === 'missing' || reason === 'unknown-or-used'))) {
        deps.cookies.clearOidcBinding(reply);
      }
      throw err;
    }
    deps.cookies.clearOidcBinding(reply);
    // A CLI sign-in sets no cookie: its credential is handed over by the exchange below, which is
    // audited as session.cli_sign_in (this callback, naming no session, stays in the log).
    if (finished.kind === 'cli') return reply.redirect(finished.redirect, 302);
    const { tenant, user } = finished.session;
    request.signInNote = { tenantId: tenant.id, email: user.email, user: { id: user.id, email: user.email, role: user.role } };
    deps.cookies.set(reply, finished.session);
    return reply.redirect(finished.returnTo, 302);
  });

  app.post(CLI_SIGN_IN_EXCHANGE_PATH, { config: { noStore: true } }, async (request, reply) => {
    const body = parseInput(oidcExchangeBody, request.body, 'code exchange');
    let issued;
    try {
      issued = await deps.cli.exchange(body);
    } catch (err) {
      // A refused code that was found belongs to a tenant: the attempt goes to that tenant's trail.
      if (err instanceof CliCodeRefused && err.tenantId) request.actor = { ...request.actor, tenantId: err.tenantId };
      throw err;
    }
    const limits = deps.sessions.limits;
    return reply.code(201).send({
      token: issued.secret,
      tokenType: 'Bearer',
      user: userView(issued.user),
      tenant: { id: issued.tenant.id, name: issued.tenant.name },
      role: issued.user.role,
      expiresAt: issued.expiresAt.toISOString(),
      idleTimeoutSeconds: Math.floor(limits.idleMs / 1000),
    });
  });
}

export const oidcConfigSchema = z
  .object({
    issuer: z.string(),
    clientId: z.string(),
    clientSecretSet: z.boolean().meta({ description: 'Whether a client secret is stored; the secret itself is never returned.' }),
    allowedEmailDomains: z.array(z.string()),
    scopes: z.array(z.string()),
    roleClaim: z.string(),
    roleMapping: z.record(z.string(), z.enum(ROLES)),
    defaultRole: z.enum(ROLES).nullable(),
    redirectUri: z.string().nullable().meta({ description: "The callback to register at the provider; null until the operator sets ATTACHE_PUBLIC_URL." }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'OidcConfig' });

export const cliSessionSchema = z
  .object({
    token: z.string().meta({ description: 'The session, to send as "Authorization: Bearer <token>". Shown once; only its hash is stored.' }),
    tokenType: z.literal('Bearer'),
    user: userViewSchema,
    tenant: z.object({ id: z.string(), name: z.string() }),
    role: z.enum(ROLES),
    expiresAt: z.iso.datetime().meta({ description: 'The absolute end of the session (ATTACHE_SESSION_MAX_SECONDS after sign-in).' }),
    idleTimeoutSeconds: z.number().int().meta({ description: 'The session ends when unused this long (ATTACHE_SESSION_IDLE_SECONDS).' }),
  })
  .meta({ id: 'CliSession' });

const redirect = (description: string) => ({ description: `${description} (the Location header).` });

export const oidcOperations = defineOperations([
  {
    method: 'GET', path: '/v1/oidc', operationId: 'getOidcConfig', tag: 'identity',
    summary: "The tenant's OIDC identity provider settings.",
    description: 'Without one: 404 OIDC_NOT_CONFIGURED.',
    responses: { 200: { description: 'The settings, without the client secret.', schema: oidcConfigSchema } }, errors: [404],
  },
  {
    method: 'PUT', path: '/v1/oidc', operationId: 'putOidcConfig', tag: 'identity',
    summary: "Sets the tenant's OIDC identity provider (discovered before it is stored).",
    description:
      'The issuer must be https unless the operator lists its origin in ATTACHE_OIDC_INSECURE_ISSUERS. A provider that cannot be discovered: 502 OIDC_PROVIDER_UNREACHABLE. `clientSecret` is write-only: absent keeps the stored one, null makes a public client.',
    body: oidcConfigBody,
    responses: { 200: { description: 'The stored settings.', schema: oidcConfigSchema } }, errors: [502],
  },
  {
    method: 'DELETE', path: '/v1/oidc', operationId: 'deleteOidcConfig', tag: 'identity',
    summary: 'Turns OIDC sign-in off for the tenant.',
    responses: { 204: { description: 'Removed.' } }, errors: [404],
  },
  {
    method: 'GET', path: '/v1/session/providers', operationId: 'signInProviders', tag: 'identity',
    summary: 'How a person of the tenant can sign in: password always, OIDC when the tenant has a provider.',
    description: 'Public. An unknown or suspended tenant answers like one without a provider (oidc false), so the answer tells nothing of which tenants exist.',
    query: providersQuery,
    responses: { 200: { description: 'The sign-in methods.', schema: z.object({ password: z.literal(true), oidc: z.boolean() }).meta({ id: 'SignInProviders' }) } },
  },
  {
    method: 'GET', path: '/v1/session/oidc/start', operationId: 'startOidcSignIn', tag: 'identity',
    summary: "Starts an OIDC sign-in: redirects the browser to the tenant's provider (authorization code, PKCE S256, state, nonce).",
    description:
      'Sets the HttpOnly attache_oidc cookie that binds the sign-in to this browser. `returnTo` must be a path on this site. A CLI sign-in (RFC 8252, what `attache login --oidc` does) adds `redirectUri` (a loopback address; anything else: 400 OIDC_REDIRECT_NOT_LOOPBACK), `codeChallenge` (S256) and `state`: the callback then redirects to `redirectUri` with a one-time `code` (60 s, single use) and `state`, or with `error` and `error_description`, and sets no cookie. No provider for the tenant (or no such tenant, or no ATTACHE_PUBLIC_URL): 404 OIDC_NOT_CONFIGURED.',
    query: oidcStartQuery,
    responses: { 302: redirect("To the provider's authorization endpoint") }, errors: [400, 403, 404, 502],
  },
  {
    method: 'GET', path: '/v1/session/oidc/callback', operationId: 'finishOidcSignIn', tag: 'identity',
    summary: 'Where the provider sends the browser back: exchanges the code, validates the ID token, sets the session and CSRF cookies.',
    description:
      'Unknown, replayed, expired or other-browser state: 400 OIDC_STATE_INVALID. ID token failing validation (audience, expiry, signature, nonce, issuer): 401 OIDC_TOKEN_INVALID. Refused by the provider: 401 OIDC_PROVIDER_ERROR. Email unverified or outside the allowed domains, no role, disabled user: 403 OIDC_EMAIL_UNVERIFIED, OIDC_EMAIL_NOT_ALLOWED, OIDC_ROLE_UNMAPPED, OIDC_USER_DISABLED.',
    query: oidcCallbackQuery,
    responses: { 302: redirect('Signed in: to the returnTo path given at the start; for a CLI sign-in, to its loopback redirect') }, errors: [403, 404, 502],
  },
  {
    method: 'POST', path: CLI_SIGN_IN_EXCHANGE_PATH, operationId: 'exchangeCliSignInCode', tag: 'identity',
    summary: "The CLI's half of a browser sign-in: trades the one-time code and the PKCE verifier for a user session used as a bearer token.",
    description:
      'The session is the user\'s, with the user\'s role (read on every request), the idle and absolute limits of every session, audited as the user, and ended by DELETE /v1/session (attache logout) or by an admin ending the user\'s sessions. Sent as a bearer token it needs no CSRF token. An unknown, used, expired code, a redirectUri other than the start\'s, or a verifier that does not match the challenge: 400 OIDC_CODE_INVALID (`details.reason`); the code is spent by the first attempt either way.',
    body: oidcExchangeBody,
    responses: { 201: { description: 'The session.', schema: cliSessionSchema } }, errors: [403],
  },
]);
