import { randomBytes } from 'node:crypto';

/**
 * Sortable, unguessable identifiers: 48-bit millisecond time + 80 random bits, Crockford base32,
 * with a type prefix so an id says what it names (tsk_, dlg_, acc_, ten_, tok_).
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
let lastTime = 0;
let lastRandom = Buffer.alloc(10);

function encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

function monotonicRandom(now: number): Buffer {
  if (now !== lastTime) {
    lastTime = now;
    lastRandom = randomBytes(10);
    return lastRandom;
  }
  // Same millisecond: increment so ids created in order also sort in order.
  const next = Buffer.from(lastRandom);
  for (let i = next.length - 1; i >= 0; i--) {
    next[i] = (next[i]! + 1) & 0xff;
    if (next[i] !== 0) break;
  }
  lastRandom = next;
  return next;
}

export function newId(prefix: string): string {
  const now = Date.now();
  const time = Buffer.alloc(6);
  time.writeUIntBE(now, 0, 6);
  return `${prefix}_${encode(Buffer.concat([time, monotonicRandom(now)]))}`;
}
