/** Buckets a filter starts with, and the fewest it shrinks to. */
const MIN_BITS = 12;

/**
 * Which anchor hashes may be registered: one bit per bucket, tested for every position of every
 * masked text, so it is kept small enough to stay in cache (a bucket per 32 to 512 anchors, about
 * 256 KB of bits at 60,000 anchors), plus a count per bucket, touched only when anchors come and go.
 * Buckets are picked by a hash's high bits, the best mixed bits of a polynomial hash.
 */
export class AnchorFilter {
  private bits = new Int32Array((1 << MIN_BITS) >>> 5);
  private counts = new Uint16Array(1 << MIN_BITS);
  private shift = 32 - MIN_BITS;
  private size = 0;

  /** False means no registered anchor has this hash; true means one may have. */
  mayHave(hash: number): boolean {
    const b = hash >>> this.shift;
    return ((this.bits[b >>> 5]! >>> (b & 31)) & 1) === 1;
  }

  /** `all` lists the other anchors registered (without `hash`), should the filter grow. */
  add(hash: number, all: () => Iterable<number>): void {
    this.size++;
    if (this.size * 32 > this.counts.length) this.resize(this.counts.length * 4, all);
    this.increment(hash);
  }

  /** `all` lists the anchors still registered (without `hash`), should the filter shrink. */
  delete(hash: number, all: () => Iterable<number>): void {
    this.size--;
    const b = hash >>> this.shift;
    const count = this.counts[b]!;
    // A saturated count is never decremented: the bucket then stays set, which costs a lookup, never a miss.
    if (count !== 0xffff) {
      this.counts[b] = count - 1;
      if (count === 1) this.bits[b >>> 5]! &= ~(1 << (b & 31));
    }
    if (this.counts.length > 1 << MIN_BITS && this.size * 512 < this.counts.length) this.resize(this.counts.length / 4, all);
  }

  private increment(hash: number): void {
    const b = hash >>> this.shift;
    if (this.counts[b] !== 0xffff) this.counts[b]!++;
    this.bits[b >>> 5]! |= 1 << (b & 31);
  }

  private resize(buckets: number, all: () => Iterable<number>): void {
    this.bits = new Int32Array(buckets >>> 5);
    this.counts = new Uint16Array(buckets);
    this.shift = 32 - Math.log2(buckets);
    for (const hash of all()) this.increment(hash);
  }
}
