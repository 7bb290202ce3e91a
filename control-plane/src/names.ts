/**
 * Names a person types and a peer sends: the check for characters that display as something else,
 * and quoting for messages. The routing grammar (group names, tags, task types) lives with the
 * eligibility rule in tasks/eligibility.ts and is re-exported here for the schemas that import it.
 */
export { GROUP_NAME, GROUP_NAME_RULE, TAG, TAG_RULE, TASK_TYPE, TASK_TYPE_RULE } from './tasks/eligibility.js';

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
