import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { NatsAccountSigner } from './account.js';

export interface NatsConnectOptions {
  /** One or more server URLs (nats://, tls://), comma-separated in configuration. */
  servers: string[];
  /** Connection name shown by the server's monitoring (replica id and role). */
  name: string;
  /** In operator mode: mints this connection's user JWT. Without it the server must allow anonymous users. */
  signer?: NatsAccountSigner | undefined;
  log: Logger;
}

/** Connection state for /readyz: a replica cut off from NATS cannot see the others' signals. */
export class NatsHealth {
  private state: 'connected' | 'disconnected' | 'closed' = 'connected';
  private since = Date.now();

  constructor(private readonly nc: NatsConnection, log: Logger) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') this.set('disconnected');
        else if (s.type === 'reconnect') this.set('connected');
        else if (s.type === 'error') log.warn({ err: s.error }, 'nats error');
        else continue;
        log.info({ status: s.type, server: nc.getServer() }, 'nats connection status');
      }
    })();
    void nc.closed().then(() => this.set('closed'));
  }

  /** 'ok', or why not, in the words /readyz shows. */
  check(): string {
    return this.state === 'connected' ? 'ok' : `${this.state} for ${Math.round((Date.now() - this.since) / 1000)} s`;
  }

  private set(state: NatsHealth['state']): void {
    if (state === this.state) return;
    this.state = state;
    this.since = Date.now();
  }
}

/**
 * Connects to NATS and never gives up: a control plane outlives NATS restarts and network splits
 * (its store is the source of truth; NATS only carries signals and delegate frames), so reconnects
 * go on forever, spaced by a wait plus jitter so that many replicas do not stampede a server that
 * has just come back. `waitOnFirstConnect` applies the same patience to the very first connection.
 */
export async function connectNats(options: NatsConnectOptions): Promise<NatsConnection> {
  const user = options.signer ? await options.signer.controlPlaneUser(options.name) : undefined;
  const nc = await connect({
    servers: options.servers,
    name: options.name,
    reconnect: true,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: 1_000,
    reconnectJitter: 500,
    reconnectJitterTLS: 1_000,
    // An authorization error while the server restarts (resolver not loaded yet) must not end the client.
    ignoreAuthErrorAbort: true,
    ...(user ? { authenticator: jwtAuthenticator(user.jwt, user.seed) } : {}),
  });
  options.log.info({ server: nc.getServer(), name: options.name }, 'nats connected');
  return nc;
}
