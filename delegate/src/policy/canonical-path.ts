import { realpath } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';

/**
 * The real path of `path`, or, when it does not exist (yet), the real path of its deepest existing
 * ancestor with the rest appended. Policy rules are compared with a file's real path in this form
 * too, so that `/var/run/secrets/...` still means itself on hosts where /var/run links to /run.
 */
export async function canonicalPath(path: string): Promise<string> {
  const missing: string[] = [];
  let current = posix.normalize(path);
  for (;;) {
    try {
      return join(await realpath(current), ...missing.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return path;
      missing.push(basename(current));
      current = parent;
    }
  }
}

/**
 * A `file:` pattern with the directory part before its first `*` canonicalised
 * (`file:/var/run/secrets/attache/*` becomes `file:/run/secrets/attache/*` where /var/run links to
 * /run). The part from the star on stays as written.
 */
export async function canonicalFilePattern(pattern: string): Promise<string> {
  const path = pattern.slice('file:'.length);
  const star = path.indexOf('*');
  const literal = star === -1 ? path : path.slice(0, star);
  const cut = literal.lastIndexOf('/');
  if (cut <= 0) return pattern;
  return `file:${await canonicalPath(literal.slice(0, cut))}${path.slice(cut)}`;
}
