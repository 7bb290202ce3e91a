import { posix } from 'node:path';
import { entryProblems } from './entry-limits.js';

/** The setting that names the references a delegate resolves; errors name it so the fix is obvious. */
export const REFS_SETTING = 'ATTACHE_ALLOW_REFS';

/**
 * What a delegate resolves when its installer says nothing: the standard AWS variables and files
 * mounted for Attaché. Everything else (a database password in the environment, /etc) needs an
 * explicit pattern.
 */
export const DEFAULT_ALLOW_REFS: readonly string[] = ['env:AWS_*', 'file:/var/run/secrets/attache/*'];

/** `ATTACHE_ALLOW_REFS=none`: resolve no env: or file: reference at all (sealed values only). */
export const NO_REFS = 'none';

/**
 * Parses a comma-separated list of reference patterns (`env:NAME*`, `file:/path/*`, `*` any run of
 * characters including `/`). Returns the patterns, deduplicated and sorted (their order has no
 * meaning), or the problems, one sentence each.
 */
export function parseReferencePatterns(value: string): { patterns: string[] } | { errors: string[] } {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 1 && parts[0] === NO_REFS) return { patterns: [] };
  const errors: string[] = entryProblems(parts);
  for (const part of parts) {
    if (part.startsWith('env:') && part.length > 'env:'.length) continue;
    if (part.startsWith('file:/')) {
      // References are matched after `.`, `..` and `//` are folded, so a pattern holding them would never match.
      const path = part.slice('file:'.length);
      if (posix.normalize(path) !== path) errors.push(`pattern "${part}" must be a normalised path (no ., .. or //); write "file:${posix.normalize(path)}"`);
      continue;
    }
    errors.push(`pattern "${part}" must start with env: or file:/ (e.g. env:AWS_*,file:/var/run/secrets/attache/*), or the list be "${NO_REFS}"`);
  }
  if (parts.length === 0) errors.push(`is empty; give patterns such as env:AWS_* or "${NO_REFS}" for sealed values only`);
  return errors.length > 0 ? { errors } : { patterns: [...new Set(parts)].sort() };
}
