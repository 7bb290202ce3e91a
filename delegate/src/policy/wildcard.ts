/**
 * The wildcard of the delegate policy: in a pattern, `*` stands for any run of characters
 * (possibly empty) and everything else is literal. There is no escape and no other metacharacter,
 * so an installer reads a pattern exactly as it is written.
 */

/**
 * Whether `text` matches `pattern`, where `*` matches any run of characters, `/` included.
 * The classic greedy matcher that backtracks only to the last star: O(pattern × text) at worst,
 * never exponential, whatever a control plane puts into a reference.
 */
export function matchesWildcard(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.length && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** Longest DNS name; longer hosts are refused before any matching. */
export const MAX_HOST_LENGTH = 253;

/**
 * Whether a URL host matches a host pattern, where `*` matches any run of characters without `/`
 * or `:`, so a star never crosses into a port or a path. Case-insensitive, as DNS is. Hosts are
 * bounded (MAX_HOST_LENGTH), which bounds the regular expression's work.
 */
export function matchesHostWildcard(pattern: string, host: string): boolean {
  if (host.length > MAX_HOST_LENGTH) return false;
  const body = pattern
    .split('*')
    .map((literal) => literal.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
    .join('[^/:]*');
  return new RegExp(`^${body}$`, 'i').test(host);
}
