import { createAccount, createOperator, createUser, encodeAccount, encodeOperator, fromSeed, type KeyPair, type Permissions } from '@nats-io/jwt';
import { nativeSigningKey } from './native-signing-key.js';
import { encodeUserJwt } from './user-jwt.js';

/**
 * The control plane's authority in a NATS operator-mode deployment: an account signing key. With it
 * the control plane mints user JWTs for itself and for delegates, and nats-server (which only knows
 * the operator and the account JWT, from its memory resolver) enforces each user's pub/sub
 * permissions. This is what makes tenant isolation a property of the server, not of our code:
 * nats-server 2.9 has no auth callout, but it verifies every user JWT against the account's signing
 * keys and applies the permissions written into it.
 */
export class NatsAccountSigner {
  readonly accountPublicKey: string;
  private readonly signingKey: KeyPair;

  /**
   * @param signingSeed an account signing key seed (SA...), listed in the account JWT's signing_keys;
   *        the account's own seed works too.
   * @param accountPublicKey the account (A...); defaults to the public key of `signingSeed`, which
   *        is only right when that seed is the account's own key.
   */
  constructor(signingSeed: string, accountPublicKey?: string) {
    this.signingKey = nativeSigningKey(fromSeed(new TextEncoder().encode(signingSeed)));
    const own = this.signingKey.getPublicKey();
    if (!own.startsWith('A')) throw new Error('the NATS signing seed must be an account key (seed starting with SA)');
    this.accountPublicKey = accountPublicKey ?? own;
  }

  /** A user JWT for `userPublicKey` (U...), valid until `expiresAt`, limited to `permissions`. */
  async userJwt(name: string, userPublicKey: string, permissions: Permissions, expiresAt?: Date): Promise<string> {
    return encodeUserJwt(
      { name, userPublicKey, accountPublicKey: this.accountPublicKey, permissions, expiresAtSeconds: expiresAt ? Math.floor(expiresAt.getTime() / 1000) : undefined },
      this.signingKey,
    );
  }

  /**
   * A fresh user key and unrestricted JWT for the control plane's own connections. Minted in memory
   * at start, never written anywhere: whoever holds the signing key could mint it anyway.
   */
  async controlPlaneUser(name: string): Promise<{ jwt: string; seed: Uint8Array }> {
    const user = createUser();
    return { jwt: await this.userJwt(name, user.getPublicKey(), {}), seed: user.getSeed() };
  }
}

export interface NatsOperatorSetup {
  /** nats-server configuration: the operator, and a memory resolver preloaded with the account. */
  serverConfig: string;
  accountPublicKey: string;
  /** For ATTACHE_NATS_SIGNING_SEED: the account signing key the control plane mints users with. */
  signingSeed: string;
}

/**
 * A fresh operator, account and account signing key, and the nats-server configuration that trusts
 * them. For tests and first setups (`node scripts/nats-setup.mjs`); production operators may
 * equally create them with `nsc`.
 */
export async function createNatsOperatorSetup(name = 'attache'): Promise<NatsOperatorSetup> {
  const operator = createOperator();
  const system = createAccount();
  const account = createAccount();
  const signing = createAccount();
  const operatorJwt = await encodeOperator(name, operator, { system_account: system.getPublicKey() });
  const systemJwt = await encodeAccount('SYS', system, { limits: { conn: -1, subs: -1, data: -1, payload: -1 } }, { signer: operator });
  // No JetStream limits: delegates and replicas use core NATS only, and a delegate must not be able to
  // create streams that outlive it.
  // Connection and subscription limits must be explicit: absent, nats-server reads them as zero.
  const limits = { conn: -1, subs: -1, data: -1, payload: -1, leaf: -1, imports: -1, exports: -1, wildcards: true };
  const accountJwt = await encodeAccount(name, account, { signing_keys: [signing.getPublicKey()], limits }, { signer: operator });
  const serverConfig = [
    `operator: ${operatorJwt}`,
    `system_account: ${system.getPublicKey()}`,
    'resolver: MEMORY',
    'resolver_preload: {',
    `  ${system.getPublicKey()}: ${systemJwt}`,
    `  ${account.getPublicKey()}: ${accountJwt}`,
    '}',
    '',
  ].join('\n');
  return {
    serverConfig,
    accountPublicKey: account.getPublicKey(),
    signingSeed: new TextDecoder().decode(signing.getSeed()),
  };
}
