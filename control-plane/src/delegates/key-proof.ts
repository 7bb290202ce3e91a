import type { DelegateFrame, KeyChallengeState } from '@attache/proto';
import type { ValidHello } from './hello.js';

export type AnnouncedKey = ValidHello['publicKeys'][number];

/**
 * Checks the KeyProof a delegate sent for the keys its Hello announced: one valid proof for every
 * announced key, and nothing else. All or nothing: a delegate that cannot prove one of its keys is
 * misconfigured or lying, and gets no key at all.
 */
export function checkKeyProof(frame: DelegateFrame, announced: readonly AnnouncedKey[], challenge: KeyChallengeState): { ok: true } | { ok: false; message: string } {
  if (frame.frame.case !== 'keyProof') {
    return { ok: false, message: `After KeyChallenge the delegate must send KeyProof, got ${frame.frame.case ?? 'an empty frame'}.` };
  }
  const byId = new Map<string, Uint8Array>();
  for (const entry of frame.frame.value.keys) {
    if (byId.has(entry.keyId)) return { ok: false, message: `KeyProof lists key ${entry.keyId.slice(0, 32)} twice.` };
    byId.set(entry.keyId, entry.mac);
  }
  const announcedIds = new Set(announced.map((k) => k.keyId));
  for (const keyId of byId.keys()) {
    if (!announcedIds.has(keyId)) return { ok: false, message: `KeyProof names key ${keyId.slice(0, 32)}, which Hello did not announce.` };
  }
  for (const key of announced) {
    const mac = byId.get(key.keyId);
    if (!mac) return { ok: false, message: `KeyProof has no proof for announced key ${key.keyId}.` };
    if (!challenge.verify(Buffer.from(key.publicKey, 'base64url'), mac)) {
      return {
        ok: false,
        message: `The delegate does not hold the private key of ${key.keyId} it announced; check ATTACHE_KEY_FILE (the key id is SHA-256 of the public key).`,
      };
    }
  }
  return { ok: true };
}
