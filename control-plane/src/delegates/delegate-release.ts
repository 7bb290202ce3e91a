/**
 * Semantic versions of delegates (semver 2.0.0 precedence), and whether a reported one is older
 * than the release the control plane expects. A version that does not parse, including the
 * `unknown` recorded when a delegate reports none, counts as outdated: nothing vouches that it has
 * what the current release has, and an operator should look at it.
 */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  /** Pre-release identifiers (`rc.1` → ['rc', '1']); empty for a release. */
  prerelease: string[];
}

const IDENT = '[0-9A-Za-z-]+';
const SEMVER = new RegExp(`^(0|[1-9]\\d*)\\.(0|[1-9]\\d*)\\.(0|[1-9]\\d*)(?:-(${IDENT}(?:\\.${IDENT})*))?(?:\\+${IDENT}(?:\\.${IDENT})*)?$`);
const NUMERIC = /^\d+$/;

export function parseSemVer(version: string): SemVer | null {
  const m = SEMVER.exec(version);
  if (!m) return null;
  const prerelease = m[4] ? m[4].split('.') : [];
  // Numeric identifiers must not have leading zeros (semver 2.0.0, item 9).
  if (prerelease.some((p) => NUMERIC.test(p) && p.length > 1 && p.startsWith('0'))) return null;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (![major, minor, patch].every(Number.isSafeInteger)) return null;
  return { major, minor, patch, prerelease };
}

function compareIdentifiers(a: string, b: string): number {
  const an = NUMERIC.test(a);
  const bn = NUMERIC.test(b);
  if (an && bn) return Math.sign(Number(a) - Number(b));
  // Numeric identifiers sort before alphanumeric ones.
  if (an !== bn) return an ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Negative, zero or positive as `a` has lower, equal or higher precedence than `b`; build metadata is ignored. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  for (const key of ['major', 'minor', 'patch'] as const) {
    if (a[key] !== b[key]) return Math.sign(a[key] - b[key]);
  }
  // A pre-release precedes its release: 1.0.0-rc.1 < 1.0.0.
  if (a.prerelease.length === 0 || b.prerelease.length === 0) return Math.sign(b.prerelease.length - a.prerelease.length);
  for (let i = 0; i < Math.min(a.prerelease.length, b.prerelease.length); i++) {
    const c = compareIdentifiers(a.prerelease[i]!, b.prerelease[i]!);
    if (c !== 0) return c;
  }
  return Math.sign(a.prerelease.length - b.prerelease.length);
}

/** The release reported versions are measured against (DELEGATE_RELEASE, or the operator's override). */
export class DelegateRelease {
  private readonly current: SemVer;

  constructor(readonly version: string) {
    const parsed = parseSemVer(version);
    if (!parsed) throw new Error(`delegate release ${JSON.stringify(version)} is not a semantic version (MAJOR.MINOR.PATCH)`);
    this.current = parsed;
  }

  /** Older than the current release, or not a version at all. A newer one (a canary) is not outdated. */
  isOutdated(reported: string): boolean {
    const parsed = parseSemVer(reported);
    return parsed === null || compareSemVer(parsed, this.current) < 0;
  }
}
