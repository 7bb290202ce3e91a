/**
 * The grammar of what routes work: delegate group names, tags and task type names. The API (task
 * selectors, account gateways, token bindings) and Hello validation both use these, so a name the
 * API accepts is exactly a name a delegate may register with, and the reverse.
 */

/** A delegate group name (Hello `name`, an account's `gateway`, a token's `group`); also a tag. */
export const GROUP_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const GROUP_NAME_RULE = 'lowercase letters, digits and -, starting with a letter or digit, at most 63 characters';

/** A routing tag (Hello `tags`, task selectors, a token's `tags`). */
export const TAG = /^[a-z0-9][a-z0-9._:/-]{0,62}$/;
export const TAG_RULE = 'lowercase letters, digits and . _ : / -, starting with a letter or digit, at most 63 characters';

/** A task type a delegate may declare: the shape of the known ones (echo, aws.validate, aws.listPolicies). */
export const TASK_TYPE = /^(?=.{1,64}$)[a-z][a-z0-9]*(\.[a-z][A-Za-z0-9]*)*$/;
export const TASK_TYPE_RULE = 'dot-separated words, lowercase first (e.g. aws.listPolicies), at most 64 characters';

/**
 * Control, line-separator and Unicode format characters (bidi overrides and isolates such as
 * U+202E and U+2066–U+2069, U+200E/U+200F marks, zero-width characters): they make a name display
 * as something other than what it is, in a console, a log or a terminal.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

export function hasUnsafeCharacters(value: string): boolean {
  return UNSAFE.test(value);
}

/** The code points of the unsafe characters in `value` (U+202E, ...), at most five, for a message. */
export function unsafeCodePoints(value: string): string {
  const found = [...new Set([...value].filter((c) => UNSAFE.test(c)).map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`))];
  return found.slice(0, 5).join(', ') + (found.length > 5 ? ', ...' : '');
}

/**
 * A value from a peer, quoted for a message: truncated, and every character outside printable
 * ASCII written as \u{...}, so the message never carries what it refuses (a bidi override would
 * otherwise reorder the log line it appears in).
 */
export function quoted(value: string, max = 64): string {
  const chars = [...value];
  const shown = chars
    .slice(0, max)
    .map((c) => (/^[\x20-\x7e]$/.test(c) && c !== '"' && c !== '\\' ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`))
    .join('');
  return `"${shown}${chars.length > max ? '...' : ''}"`;
}
