import { randomInt } from 'node:crypto';
import { AnchorFilter } from './anchor-filter.js';

/**
 * Where a pattern is looked for: `text` is a JS string (a log line, an error message); `bytes` is
 * serialised bytes read as latin1, one character per byte (a binary task result).
 */
export type Domain = 'text' | 'bytes';

/**
 * Patterns at least this long are found through one window of this many characters (their anchor);
 * shorter ones are their own anchor. Each distinct anchor length costs one probe per character of
 * the text, so this also bounds that cost: at most ANCHOR_LENGTH probes per character.
 */
export const ANCHOR_LENGTH = 8;

// A polynomial hash modulo 2^32 with an odd random base (per process, so nobody can prepare text
// that collides with a registered pattern): 32-bit integer arithmetic only, a few nanoseconds a
// character. A long pattern is confirmed by two hashes (its anchor window and its whole span),
// about 1 in 2^64 of being wrong; a short one by comparing its characters. A false match would only
// mask text that was not secret; a true occurrence is never missed.
const BASE = (randomInt(1 << 20, 1 << 30) * 2 + 1) | 0;

/** Map keys: 30 bits, so that they stay small integers (the full hash is compared on a hit). */
const KEY_MASK = 0x3fffffff;

/** Scratch arrays up to this many characters are kept between calls; longer texts allocate their own. */
const KEPT_SCRATCH = 1 << 16;

interface Pattern {
  readonly text: string;
  readonly anchorOffset: number;
  readonly anchorLength: number;
  readonly anchor: number;
  readonly full: number;
  /** How many registrations want it in each domain; the pattern leaves the index when both are 0. */
  textRefs: number;
  byteRefs: number;
}

/**
 * A set of patterns that finds every occurrence of all of them in one pass over a text, in time
 * linear in the text and independent of how many patterns are registered, and that adds or removes
 * a pattern in time linear in that pattern alone (no automaton to rebuild, so registering secrets
 * at a steady rate costs the same with 10 or 10,000 registered).
 *
 * Each pattern is filed under the hash of one window of itself (its anchor, chosen among the
 * windows no other pattern uses yet). The text's prefix hashes are computed once; then every
 * position is one bit test per anchor length (masking/anchor-filter.ts, almost always clear), and a
 * set bit leads to the patterns filed under that window, each confirmed in constant time by the
 * hash of its whole span. Only patterns with no free window of their own (runs of one character,
 * say) share an anchor, so a position has one candidate in practice.
 *
 * Aho–Corasick would give the same matching bound, but its automaton must be rebuilt whenever the
 * set changes, and the set changes with every task: that rebuild is what the regex this replaces
 * paid on each registration.
 */
export class PatternIndex {
  private readonly patterns = new Map<string, Pattern>();
  /** anchor length → anchor hash (low 30 bits) → patterns filed there: one, unless a pattern had no free window. */
  private readonly anchors = new Map<number, Map<number, Pattern[]>>();
  private lengths: number[] = [];
  private readonly filter = new AnchorFilter();
  private readonly anchorHashes = () => [...this.patterns.values()].map((p) => p.anchor);
  private pow = Int32Array.of(1);
  private scratch = { hashes: new Int32Array(0), reach: new Int32Array(0) };
  private readonly spans: number[] = [];

  get size(): number {
    return this.patterns.size;
  }

  add(text: string, domain: Domain): void {
    if (text === '') return;
    let p = this.patterns.get(text);
    if (p === undefined) {
      p = this.file(text);
      this.patterns.set(text, p);
    }
    if (domain === 'text') p.textRefs++;
    else p.byteRefs++;
  }

  delete(text: string, domain: Domain): void {
    const p = this.patterns.get(text);
    if (p === undefined) return;
    if (domain === 'text') p.textRefs = Math.max(0, p.textRefs - 1);
    else p.byteRefs = Math.max(0, p.byteRefs - 1);
    if (p.textRefs === 0 && p.byteRefs === 0) this.unfile(p);
  }

  /**
   * Replaces every character covered by an occurrence of a `text` pattern with `mask`. Overlapping
   * occurrences (one secret nested in or overlapping another) become one mask, so no piece of
   * either survives; occurrences that only touch stay separate masks.
   */
  replace(text: string, mask: string): string {
    const n = text.length;
    if (n === 0 || this.patterns.size === 0) return text;
    const spans = this.scan(text, 'text', false);
    if (spans.length === 0) return text;
    const reach = this.reachArray(n);
    for (let s = 0; s < spans.length; s += 2) if (spans[s + 1]! > reach[spans[s]!]!) reach[spans[s]!] = spans[s + 1]!;
    const out: string[] = [];
    let copied = 0;
    for (let i = 0; i < n; i++) {
      let end = reach[i]!;
      if (end === 0) continue;
      // Extend across every occurrence that starts inside the span being masked.
      for (let j = i + 1; j < end; j++) if (reach[j]! > end) end = reach[j]!;
      out.push(text.slice(copied, i), mask);
      copied = end;
      i = end - 1;
    }
    out.push(text.slice(copied));
    return out.join('');
  }

  /** True when any pattern of `domain` occurs in `text`; stops at the first. */
  occursIn(text: string, domain: Domain): boolean {
    if (text.length === 0 || this.patterns.size === 0) return false;
    return this.scan(text, domain, true).length > 0;
  }

  /**
   * Occurrences of `domain` patterns as flat [start, end, start, end, ...] (reused between calls),
   * in no particular order; only the first when `firstOnly`.
   */
  private scan(text: string, domain: Domain, firstOnly: boolean): number[] {
    const spans = this.spans;
    spans.length = 0;
    const n = text.length;
    const h = this.prefixHashes(text);
    const { pow, filter } = this;
    for (const length of this.lengths) {
      if (length > n) continue;
      const byKey = this.anchors.get(length)!;
      const shift = pow[length]!;
      for (let i = 0, j = length; j <= n; i++, j++) {
        const k = (h[j]! - Math.imul(h[i]!, shift)) | 0;
        if (!filter.mayHave(k)) continue;
        const filed = byKey.get(k & KEY_MASK);
        if (filed === undefined) continue;
        for (const p of filed) {
          if (p.anchor !== k || (domain === 'text' ? p.textRefs : p.byteRefs) === 0) continue;
          const start = i - p.anchorOffset;
          const m = p.text.length;
          const end = start + m;
          if (start < 0 || end > n) continue;
          if (m === length ? !text.startsWith(p.text, start) : ((h[end]! - Math.imul(h[start]!, pow[m]!)) | 0) !== p.full) continue;
          spans.push(start, end);
          if (firstOnly) return spans;
        }
      }
    }
    return spans;
  }

  private file(text: string): Pattern {
    const m = text.length;
    this.growPowers(m);
    const h = this.prefixHashes(text);
    const length = Math.min(m, ANCHOR_LENGTH);
    let byKey = this.anchors.get(length);
    if (byKey === undefined) {
      byKey = new Map();
      this.anchors.set(length, byKey);
      this.lengths = [...this.anchors.keys()];
    }
    // Prefer a window no other pattern is filed under, from the end: related secrets (session
    // tokens) share long prefixes, and a shared anchor would make every one of them a candidate.
    let best = { offset: m - length, load: Infinity, anchor: 0 };
    for (let offset = m - length; offset >= 0; offset--) {
      const anchor = (h[offset + length]! - Math.imul(h[offset]!, this.pow[length]!)) | 0;
      let load = 0;
      for (const q of byKey.get(anchor & KEY_MASK) ?? []) if (q.anchor === anchor) load++;
      if (load < best.load) best = { offset, load, anchor };
      if (load === 0) break;
    }
    const p: Pattern = { text, anchorOffset: best.offset, anchorLength: length, anchor: best.anchor, full: h[m]!, textRefs: 0, byteRefs: 0 };
    const key = p.anchor & KEY_MASK;
    const filed = byKey.get(key);
    if (filed) filed.push(p);
    else byKey.set(key, [p]);
    this.filter.add(p.anchor, this.anchorHashes);
    return p;
  }

  private unfile(p: Pattern): void {
    this.patterns.delete(p.text);
    const byKey = this.anchors.get(p.anchorLength)!;
    const key = p.anchor & KEY_MASK;
    const rest = byKey.get(key)!.filter((q) => q !== p);
    if (rest.length > 0) byKey.set(key, rest);
    else byKey.delete(key);
    if (byKey.size === 0) {
      this.anchors.delete(p.anchorLength);
      this.lengths = [...this.anchors.keys()];
    }
    this.filter.delete(p.anchor, this.anchorHashes);
    // Let go of what the longest pattern seen made us allocate.
    if (this.patterns.size === 0) this.pow = Int32Array.of(1);
  }

  private growPowers(m: number): void {
    if (this.pow.length > m) return;
    const pow = new Int32Array(Math.max(m + 1, this.pow.length * 2));
    pow.set(this.pow);
    for (let i = this.pow.length; i < pow.length; i++) pow[i] = Math.imul(pow[i - 1]!, BASE);
    this.pow = pow;
  }

  private prefixHashes(text: string): Int32Array {
    const need = text.length + 1;
    if (need > KEPT_SCRATCH) return prefixHashesOf(text, new Int32Array(need));
    if (this.scratch.hashes.length < need) {
      const size = Math.min(KEPT_SCRATCH, Math.max(need, this.scratch.hashes.length * 2, 1024));
      this.scratch = { hashes: new Int32Array(size), reach: new Int32Array(size) };
    }
    return prefixHashesOf(text, this.scratch.hashes);
  }

  /** Per start position, the furthest end of an occurrence starting there; zeroed for this text. */
  private reachArray(n: number): Int32Array {
    if (n + 1 > KEPT_SCRATCH) return new Int32Array(n);
    const reach = this.scratch.reach.subarray(0, n);
    reach.fill(0);
    return reach;
  }
}

/** h[i] is the hash of the first i characters, so any span's hash is h[end] - h[start]·BASE^(end-start). */
function prefixHashesOf(text: string, h: Int32Array): Int32Array {
  h[0] = 0;
  for (let i = 0; i < text.length; i++) h[i + 1] = (Math.imul(h[i]!, BASE) + text.charCodeAt(i)) | 0;
  return h;
}
