import { compareSemVer, parseSemVer, type DelegateRelease, type SemVer } from './delegate-release.js';

/**
 * Connected delegates counted by reported version, as bounded metric labels. Delegates choose what
 * they report, so a version becomes a label value only when it parses, and at most
 * MAX_VERSION_LABELS of them (the most common first) are named: the rest are summed as `other`,
 * and anything unparseable as `unknown`. `outdated` is decided on the real version before it is
 * folded, so `other` can appear once outdated and once not.
 */
export const MAX_VERSION_LABELS = 20;
export const UNKNOWN_VERSION = 'unknown';
export const OTHER_VERSIONS = 'other';

export interface VersionCount {
  version: string;
  outdated: boolean;
  count: number;
}

export function versionCensus(
  rows: ReadonlyArray<{ version: string; count: number }>,
  release: DelegateRelease,
  maxLabels = MAX_VERSION_LABELS,
): VersionCount[] {
  const valid = new Map<string, { semver: SemVer; count: number }>();
  const out = new Map<string, VersionCount>();
  const add = (version: string, outdated: boolean, count: number) => {
    const key = `${version}\u0000${outdated}`;
    const seen = out.get(key);
    if (seen) seen.count += count;
    else out.set(key, { version, outdated, count });
  };
  for (const r of rows) {
    if (r.count <= 0) continue;
    const semver = parseSemVer(r.version);
    if (!semver) add(UNKNOWN_VERSION, true, r.count);
    else valid.set(r.version, { semver, count: (valid.get(r.version)?.count ?? 0) + r.count });
  }
  // Most delegates first, then the newest, so which versions are named does not flap between scrapes.
  const ranked = [...valid.entries()].sort(([, a], [, b]) => b.count - a.count || compareSemVer(b.semver, a.semver));
  ranked.forEach(([version, { count }], i) => add(i < maxLabels ? version : OTHER_VERSIONS, release.isOutdated(version), count));
  return [...out.values()];
}
