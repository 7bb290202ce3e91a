import { describe, expect, it } from 'vitest';
import { AnchorFilter } from './anchor-filter.js';

function hashes(count: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: count }, () => (x = (Math.imul(x, 0x2c9277b5) + 0xac564b05) | 0));
}

describe('AnchorFilter', () => {
  it('never forgets a registered hash while it grows and shrinks', () => {
    const filter = new AnchorFilter();
    const live = new Set<number>();
    const all = () => live;
    for (const h of hashes(20_000, 1)) {
      filter.add(h, all);
      live.add(h);
    }
    for (const h of live) expect(filter.mayHave(h)).toBe(true);
    const kept = [...live].slice(0, 10);
    for (const h of [...live].slice(10)) {
      live.delete(h);
      filter.delete(h, all);
    }
    for (const h of kept) expect(filter.mayHave(h)).toBe(true);
    // Cleared and shrunk: almost every other hash is now known to be absent.
    const others = hashes(1_000, 2).filter((h) => filter.mayHave(h));
    expect(others.length).toBeLessThan(50);
  });
});
