import { randomInt } from 'node:crypto';

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

// Two prime moduli below 2^26: the product of two residues stays below 2^52, exact in a double, so
// the hashes need no BigInt. Two independent hashes make a false equality about 1 in 2^50 per
// comparison; a false one only masks text that was not secret, and a true match is never missed.
const P1 = 67_108_859;
const P2 = 67_108_837;
// Random bases per process, so nobody can prepare text that collides with a registered pattern.
const B1 = randomInt(1 << 16, P1 - 1);
const B2 = randomInt(1 << 16, P2 - 1);

/** Scratch arrays up to this many characters are kept between calls; longer texts allocate their own. */
const KEPT_SCRATCH = 1 << 16;

interface Pattern {
  readonly text: string;
  readonly anchorOffset: number;
  readonly anchorLength: number;
  readonly anchor1: number;
  readonly anchor2: number;
  readonly full1: number;
  readonly full2: number;
  /** How many registrations want it in each domain; the pattern leaves the index when both are 0. */
  textRefs: number;
  byteRefs: number;
}

/**
 * A set of patterns that finds every occurrence of all of them in one pass over a text, in time
 * linear in the text and independent of how many patterns are registered, and that adds or removes
 * a pattern in time linear in that pattern alone (no rebuild of a whole automaton, so registering
 * secrets at a steady rate costs the same with 10 or 10,000 registered).
 *
 * Each pattern is filed under the rolling hash of one window of itself (its anchor, chosen among
 * the windows no other pattern uses yet). The text's prefix hashes are computed once; then every
 * position is one array probe per anchor length (a counting filter, almost always empty), and a
 * hit is confirmed in constant time by comparing the hash of the whole candidate span.
 */
export class PatternIndex {
  private readonly patterns = new Map<string, Pattern>();
  /** anchor length → first anchor hash → patterns filed there (one, unless a pattern had no free window). */
  private readonly anchors = new Map<number, Map<number, Pattern[]>>();
  private lengths: number[] = [];
  private filter = new Uint32Array(1024);
  private pow1 = Int32Array.of(1);
  private pow2 = Int32Array.of(1);
  private scratch = { h1: new Int32Array(0), h2: new Int32Array(0), reach: new Int32Array(0) };

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
    let reach: Int32Array | undefined;
    this.scan(text, 'text', (start, end) => {
      reach ??= this.reachArray(n);
      if (end > reach[start]!) reach[start] = end;
      return false;
    });
    if (reach === undefined) return text;
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
    let found = false;
    this.scan(text, domain, () => (found = true));
    return found;
  }

  /** Calls `visit(start, end)` for occurrences of `domain` patterns until it returns true. */
  private scan(text: string, domain: Domain, visit: (start: number, end: number) => boolean): void {
    const n = text.length;
    const { h1, h2 } = this.prefixHashes(text);
    const { pow1, pow2 } = this;
    const bucketMask = this.filter.length - 1;
    for (const length of this.lengths) {
      if (length > n) continue;
      const byHash = this.anchors.get(length)!;
      const shift1 = pow1[length]!;
      for (let i = 0, j = length; j <= n; i++, j++) {
        const k1 = mod(h1[j]! - ((h1[i]! * shift1) % P1), P1);
        if (this.filter[bucket(k1, length) & bucketMask] === 0) continue;
        const filed = byHash.get(k1);
        if (filed === undefined) continue;
        const k2 = mod(h2[j]! - ((h2[i]! * pow2[length]!) % P2), P2);
        for (const p of filed) {
          if (p.anchor2 !== k2 || (domain === 'text' ? p.textRefs : p.byteRefs) === 0) continue;
          const start = i - p.anchorOffset;
          const end = start + p.text.length;
          if (start < 0 || end > n) continue;
          if (p.text.length !== length) {
            const m = end - start;
            if (mod(h1[end]! - ((h1[start]! * pow1[m]!) % P1), P1) !== p.full1) continue;
            if (mod(h2[end]! - ((h2[start]! * pow2[m]!) % P2), P2) !== p.full2) continue;
          }
          if (visit(start, end)) return;
        }
      }
    }
  }

  private file(text: string): Pattern {
    const m = text.length;
    this.growPowers(m);
    const { h1, h2 } = prefixHashesOf(text, new Int32Array(m + 1), new Int32Array(m + 1));
    const length = Math.min(m, ANCHOR_LENGTH);
    let byHash = this.anchors.get(length);
    if (byHash === undefined) {
      byHash = new Map();
      this.anchors.set(length, byHash);
      this.lengths = [...this.anchors.keys()];
    }
    // Prefer a window no other pattern is filed under, from the end: related secrets (session
    // tokens) share long prefixes, and a shared anchor would make every one of them a candidate.
    let best = { offset: m - length, load: Infinity, k1: 0, k2: 0 };
    for (let offset = m - length; offset >= 0; offset--) {
      const k1 = mod(h1[offset + length]! - ((h1[offset]! * this.pow1[length]!) % P1), P1);
      const k2 = mod(h2[offset + length]! - ((h2[offset]! * this.pow2[length]!) % P2), P2);
      let load = 0;
      for (const q of byHash.get(k1) ?? []) if (q.anchor2 === k2) load++;
      if (load < best.load) best = { offset, load, k1, k2 };
      if (load === 0) break;
    }
    const p: Pattern = {
      text,
      anchorOffset: best.offset,
      anchorLength: length,
      anchor1: best.k1,
      anchor2: best.k2,
      full1: h1[m]!,
      full2: h2[m]!,
      textRefs: 0,
      byteRefs: 0,
    };
    const filed = byHash.get(p.anchor1);
    if (filed) filed.push(p);
    else byHash.set(p.anchor1, [p]);
    if (this.patterns.size * 16 > this.filter.length) this.rebuildFilter(this.filter.length * 4);
    this.filter[bucket(p.anchor1, length) & (this.filter.length - 1)]!++;
    return p;
  }

  private unfile(p: Pattern): void {
    this.patterns.delete(p.text);
    const byHash = this.anchors.get(p.anchorLength)!;
    const filed = byHash.get(p.anchor1)!;
    const rest = filed.filter((q) => q !== p);
    if (rest.length > 0) byHash.set(p.anchor1, rest);
    else byHash.delete(p.anchor1);
    if (byHash.size === 0) {
      this.anchors.delete(p.anchorLength);
      this.lengths = [...this.anchors.keys()];
    }
    this.filter[bucket(p.anchor1, p.anchorLength) & (this.filter.length - 1)]!--;
    if (this.filter.length > 1024 && this.patterns.size * 64 < this.filter.length) this.rebuildFilter(this.filter.length / 4);
    // Let go of what the longest pattern seen made us allocate.
    if (this.patterns.size === 0) {
      this.pow1 = Int32Array.of(1);
      this.pow2 = Int32Array.of(1);
    }
  }

  private rebuildFilter(size: number): void {
    this.filter = new Uint32Array(size);
    for (const p of this.patterns.values()) this.filter[bucket(p.anchor1, p.anchorLength) & (size - 1)]!++;
  }

  private growPowers(m: number): void {
    if (this.pow1.length > m) return;
    const size = Math.max(m + 1, this.pow1.length * 2);
    const pow1 = new Int32Array(size);
    const pow2 = new Int32Array(size);
    pow1.set(this.pow1);
    pow2.set(this.pow2);
    for (let i = this.pow1.length; i < size; i++) {
      pow1[i] = (pow1[i - 1]! * B1) % P1;
      pow2[i] = (pow2[i - 1]! * B2) % P2;
    }
    this.pow1 = pow1;
    this.pow2 = pow2;
  }

  private prefixHashes(text: string): { h1: Int32Array; h2: Int32Array } {
    const need = text.length + 1;
    if (need > KEPT_SCRATCH) return prefixHashesOf(text, new Int32Array(need), new Int32Array(need));
    if (this.scratch.h1.length < need) {
      const size = Math.min(KEPT_SCRATCH, Math.max(need, this.scratch.h1.length * 2, 1024));
      this.scratch = { h1: new Int32Array(size), h2: new Int32Array(size), reach: new Int32Array(size) };
    }
    return prefixHashesOf(text, this.scratch.h1, this.scratch.h2);
  }

  /** Per start position, the furthest end of an occurrence starting there; zeroed for this text. */
  private reachArray(n: number): Int32Array {
    if (n + 1 > KEPT_SCRATCH) return new Int32Array(n);
    const reach = this.scratch.reach.subarray(0, n);
    reach.fill(0);
    return reach;
  }
}

function prefixHashesOf(text: string, h1: Int32Array, h2: Int32Array): { h1: Int32Array; h2: Int32Array } {
  h1[0] = 0;
  h2[0] = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1[i + 1] = (h1[i]! * B1 + c) % P1;
    h2[i + 1] = (h2[i]! * B2 + c) % P2;
  }
  return { h1, h2 };
}

function mod(x: number, p: number): number {
  return x < 0 ? x + p : x;
}

function bucket(anchor1: number, length: number): number {
  return anchor1 ^ Math.imul(length, 0x9e3779b1);
}
