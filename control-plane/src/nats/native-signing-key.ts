import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { privateKeyFromRaw } from '@attache/proto';
import type { KeyPair } from '@nats-io/jwt';

/**
 * An nkeys account key whose signatures come from Node's crypto (OpenSSL) instead of the nkeys
 * library's pure-JavaScript Ed25519. With nkeys, minting one delegate's user JWT took about 30 ms
 * of CPU (a signature, plus deriving the key pair again on every getPublicKey/getPrivateKey call),
 * so one control-plane core issued only ~30 NATS credentials a second: a fleet reconnecting after
 * a restart queued for minutes. Ed25519 is deterministic, so the signatures are byte-for-byte the
 * ones nkeys would produce. Only what @nats-io/jwt's encoders use is served natively; everything
 * else is the original key pair's.
 */
export function nativeSigningKey(kp: KeyPair & { getRawSeed?: () => Uint8Array }): KeyPair {
  if (typeof kp.getRawSeed !== 'function') throw new Error('a signing key needs its seed');
  const seed = kp.getRawSeed();
  const privateKey: KeyObject = privateKeyFromRaw('ed25519', seed);
  const publicKeyObject = createPublicKey(privateKey);
  const publicKey = kp.getPublicKey();
  const privateKeyBytes = kp.getPrivateKey();
  return {
    getPublicKey: () => publicKey,
    getPrivateKey: () => privateKeyBytes,
    getSeed: () => kp.getSeed(),
    sign: (input) => new Uint8Array(sign(null, input, privateKey)),
    verify: (input, sig) => verify(null, input, publicKeyObject, sig),
    clear: () => kp.clear(),
    seal: (input, recipient, nonce) => kp.seal(input, recipient, nonce),
    open: (message, sender) => kp.open(message, sender),
  } as KeyPair;
}
