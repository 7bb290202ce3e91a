import type { NatsCredentialsResponse, NatsSessionSubjects } from '@attache/proto';
import { tenantActive } from '../identity/tenant-status.js';
import { AppError, ErrorCode } from '../errors.js';
import { newId } from '../ids.js';
import type { Metrics } from '../metrics.js';
import type { NatsAccountSigner } from '../nats/account.js';
import type { HandshakePacer } from '../delegates/handshake-pacer.js';
import type { TokenVerifier } from '../delegates/token-service.js';

/** Root of every delegate session subject; the bus lives elsewhere (attache.bus.>) and is out of reach. */
export const NATS_DELEGATE_ROOT = 'attache.d';

/** The connect subjects of all sessions, for the control plane's queue subscription. */
export const NATS_CONNECT_WILDCARD = `${NATS_DELEGATE_ROOT}.*.*.connect`;

/**
 * Subjects of one delegate session: attache.d.<tenantId>.<sessionId>.{connect,up,down,inbox.>}.
 * Tenant and session ids are our own base32 ids, so they never contain subject separators or wildcards.
 */
export function natsSessionSubjects(tenantId: string, sessionId: string): NatsSessionSubjects {
  const base = `${NATS_DELEGATE_ROOT}.${tenantId}.${sessionId}`;
  return { connect: `${base}.connect`, up: `${base}.up`, down: `${base}.down`, inboxPrefix: `${base}.inbox` };
}

/** The tenant and session a connect subject names, or null when it is not one of ours. */
export function parseConnectSubject(subject: string): { tenantId: string; sessionId: string } | null {
  const parts = subject.split('.');
  if (parts.length !== 5 || `${parts[0]}.${parts[1]}` !== NATS_DELEGATE_ROOT || parts[4] !== 'connect') return null;
  return { tenantId: parts[2]!, sessionId: parts[3]! };
}

const USER_KEY = /^U[A-Z2-7]{55}$/;

/**
 * Issues a delegate's NATS credentials in exchange for its delegate token: a user JWT for the
 * delegate's own public key, confined to one fresh session's subjects under its tenant. The
 * permissions are the isolation boundary, enforced by nats-server on every PUB and SUB: a delegate
 * can publish only its connect request and its up-frames, and subscribe only to its down-frames and
 * its reply inbox. The JWT expires after `ttlSeconds`, which also bounds how long a revoked token's
 * NATS user can stay connected to the server.
 *
 * Issuing is the first step of a NATS delegate's handshake, and a reconnect storm arrives here
 * first: every call is admitted through a pacer before its token is read, and one past its limit is
 * refused with HANDSHAKE_PACED and the slot to come back at, as the other carriers' handshakes are
 * (delegates/connection-handler.ts). The pacer, not the API's per-key rate limit, is this route's
 * limit, since a whole fleet shares one token.
 */
export class NatsCredentialIssuer {
  constructor(
    private readonly tokens: TokenVerifier,
    private readonly signer: NatsAccountSigner,
    private readonly ttlSeconds: number,
    private readonly pacing: { pacer: Pick<HandshakePacer, 'admit'>; metrics: Pick<Metrics, 'delegatePaced'> },
  ) {}

  async issue(token: string | null, publicKey: string): Promise<NatsCredentialsResponse> {
    const ticket = this.pacing.pacer.admit();
    if (!ticket.admitted) {
      this.pacing.metrics.delegatePaced('nats');
      throw new AppError(
        ErrorCode.HANDSHAKE_PACED,
        `This control-plane replica is already issuing ${ticket.inFlight} sets of NATS credentials (ATTACHE_MAX_HANDSHAKES_IN_FLIGHT); retry in about ${ticket.retryAfterMs} ms.`,
        { retryAfterMs: ticket.retryAfterMs },
      );
    }
    try {
      return await this.issueAdmitted(token, publicKey);
    } finally {
      ticket.done();
    }
  }

  private async issueAdmitted(token: string | null, publicKey: string): Promise<NatsCredentialsResponse> {
    if (!USER_KEY.test(publicKey)) {
      throw new AppError(ErrorCode.VALIDATION_FAILED, 'publicKey must be a NATS user public nkey (U..., 56 characters).');
    }
    const checked = await this.tokens.verify(token);
    if (!checked.ok) {
      if (checked.refusal === 'suspended') tenantActive(checked.tenant);
      throw new AppError(ErrorCode.UNAUTHENTICATED, 'The delegate token is unknown or revoked.');
    }
    const record = checked.token;
    const subjects = natsSessionSubjects(record.tenantId, newId('nss'));
    const expiresAt = new Date(Date.now() + this.ttlSeconds * 1000);
    const jwt = await this.signer.userJwt(
      `delegate ${record.tenantId}/${record.name}`,
      publicKey,
      {
        pub: { allow: [subjects.connect, subjects.up] },
        sub: { allow: [subjects.down, `${subjects.inboxPrefix}.>`] },
      },
      expiresAt,
    );
    return { jwt, expiresAt: expiresAt.toISOString(), subjects };
  }
}
