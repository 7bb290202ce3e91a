import { sign } from 'node:crypto';
import { newRawKeyPair } from '@attache/proto';

/**
 * The delegate's NATS user key, made and used with Node's Ed25519 (OpenSSL). The nkeys library
 * does the same in pure JavaScript at ~4 ms per public-key derivation and ~8 ms per signature,
 * i.e. ~16 ms of CPU per (re)connection; here it is well under a millisecond. The seed never
 * leaves this object, as before: only the public key goes to the control plane, and only the
 * signature of the server's nonce to nats-server.
 */
export interface NatsUserKey {
  /** The nkey public key, "U..." (what the user JWT is issued for). */
  readonly publicKey: string;
  sign(data: Uint8Array): Uint8Array;
}

/** nkeys prefix byte of a user key: 'U' in base32 (20 << 3). */
const USER_PREFIX = 20 << 3;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function newNatsUserKey(): NatsUserKey {
  // Its public half as DER, not JWK: see raw-key-pair.ts in @attache/proto (a deadlock of Node.js 20).
  const { privateKey, publicKey } = newRawKeyPair('ed25519');
  return { publicKey: encodeNkey(USER_PREFIX, publicKey), sign: (data) => new Uint8Array(sign(null, data, privateKey)) };
}

/** nkeys text form: base32 (RFC 4648, unpadded) of prefix byte, key, and CRC-16/XMODEM little-endian. */
export function encodeNkey(prefix: number, raw: Uint8Array): string {
  const body = Buffer.concat([Buffer.from([prefix]), Buffer.from(raw)]);
  const crc = crc16(body);
  const all = Buffer.concat([body, Buffer.from([crc & 0xff, crc >> 8])]);
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of all) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const byte of data) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
