import { describe, expect, it } from 'vitest';
import { ANCHOR_LENGTH, PatternIndex } from './pattern-index.js';

const MASK = '#';

/** The definition the index must meet: every character of any occurrence hidden, overlapping occurrences as one mask. */
function reference(text: string, patterns: readonly string[]): string {
  const spans: Array<[number, number]> = [];
  for (const p of patterns) {
    for (let at = text.indexOf(p); at !== -1; at = text.indexOf(p, at + 1)) spans.push([at, at + p.length]);
  }
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let copied = 0;
  let end = -1;
  for (const [s, e] of spans) {
    if (s < end) {
      end = Math.max(end, e);
      continue;
    }
    if (end >= 0) copied = end;
    out += text.slice(copied, s) + MASK;
    end = e;
  }
  if (end >= 0) copied = end;
  return out + text.slice(copied);
}

/** Deterministic pseudo-random numbers, so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function randomString(next: () => number, alphabet: string, min: number, max: number): string {
  const length = min + Math.floor(next() * (max - min + 1));
  let s = '';
  for (let i = 0; i < length; i++) s += alphabet[Math.floor(next() * alphabet.length)];
  return s;
}

describe('PatternIndex', () => {
  it('masks exactly what a brute-force search finds, over many random overlapping sets', () => {
    const next = rng(20261201);
    // A two-letter alphabet forces shared windows, nested and overlapping occurrences, and
    // patterns shorter and longer than the anchor.
    for (let round = 0; round < 300; round++) {
      const index = new PatternIndex();
      const patterns = new Set<string>();
      const count = 1 + Math.floor(next() * 12);
      for (let i = 0; i < count; i++) patterns.add(randomString(next, 'ab', 1, 3 * ANCHOR_LENGTH));
      for (const p of patterns) index.add(p, 'text');
      for (let t = 0; t < 5; t++) {
        const text = randomString(next, 'abc', 0, 120);
        expect(index.replace(text, MASK), `patterns ${JSON.stringify([...patterns])}`).toBe(reference(text, [...patterns]));
        expect(index.occursIn(text, 'text')).toBe([...patterns].some((p) => text.includes(p)));
      }
    }
  });

  it('hides the whole of overlapping and nested occurrences, and keeps touching ones apart', () => {
    const index = new PatternIndex();
    for (const p of ['abcdef123456', '123456uvwxyz', 'outer-INNER-secret', 'INNER']) index.add(p, 'text');
    expect(index.replace('x abcdef123456uvwxyz y', MASK)).toBe(`x ${MASK} y`);
    expect(index.replace('[outer-INNER-secret] and INNER', MASK)).toBe(`[${MASK}] and ${MASK}`);
    expect(index.replace('INNERINNER', MASK)).toBe(MASK + MASK);
  });

  it('finds patterns that share every window with another', () => {
    const index = new PatternIndex();
    const long = 'z'.repeat(3 * ANCHOR_LENGTH);
    const longer = 'z'.repeat(3 * ANCHOR_LENGTH + 5);
    index.add(long, 'text');
    index.add(longer, 'text');
    expect(index.replace(`<${'z'.repeat(3 * ANCHOR_LENGTH - 1)}>`, MASK)).toBe(`<${'z'.repeat(3 * ANCHOR_LENGTH - 1)}>`);
    expect(index.replace(`<${long}>`, MASK)).toBe(`<${MASK}>`);
    expect(index.replace(`<${longer}>`, MASK)).toBe(`<${MASK}>`);
    index.delete(longer, 'text');
    expect(index.replace(`<${long}>`, MASK)).toBe(`<${MASK}>`);
  });

  it('keeps a pattern until every registration of it is removed, per domain', () => {
    const index = new PatternIndex();
    index.add('s3cr3t-value', 'text');
    index.add('s3cr3t-value', 'text');
    index.add('only-in-bytes', 'bytes');
    index.delete('s3cr3t-value', 'text');
    expect(index.replace('is s3cr3t-value', MASK)).toBe(`is ${MASK}`);
    expect(index.occursIn('is s3cr3t-value', 'bytes')).toBe(false);
    expect(index.replace('only-in-bytes', MASK)).toBe('only-in-bytes');
    expect(index.occursIn('xonly-in-bytesx', 'bytes')).toBe(true);
    index.delete('s3cr3t-value', 'text');
    expect(index.replace('is s3cr3t-value', MASK)).toBe('is s3cr3t-value');
    expect(index.size).toBe(1);
  });

  it('handles texts longer than its kept scratch space and patterns added after them', () => {
    const index = new PatternIndex();
    const secret = 'k'.repeat(10) + 'LONGTEXTSECRET';
    index.add(secret, 'text');
    const text = 'y'.repeat(100_000) + secret + 'y'.repeat(10);
    expect(index.replace(text, MASK)).toBe('y'.repeat(100_000) + MASK + 'y'.repeat(10));
    index.add('short', 'text');
    expect(index.replace(`a short ${secret}`, MASK)).toBe(`a ${MASK} ${MASK}`);
  });

  it('stays correct while thousands of patterns come and go', () => {
    const next = rng(7);
    const index = new PatternIndex();
    const live: string[] = [];
    const removed: string[] = [];
    for (let i = 0; i < 5_000; i++) {
      const p = randomString(next, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 20, 60);
      index.add(p, 'text');
      live.push(p);
      if (live.length > 1_000) {
        removed.push(live.shift()!);
        index.delete(removed.at(-1)!, 'text');
      }
    }
    for (const p of [live[0]!, live[500]!, live.at(-1)!]) expect(index.replace(`key ${p} end`, MASK)).toBe(`key ${MASK} end`);
    for (const p of [removed[0]!, removed.at(-1)!]) expect(index.replace(`key ${p} end`, MASK)).toBe(`key ${p} end`);
    expect(index.size).toBe(1_000);
  });
});
