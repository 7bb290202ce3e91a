import { describe, expect, it } from 'vitest';
import { DelegateRelease, compareSemVer, parseSemVer } from './delegate-release.js';

const cmp = (a: string, b: string) => compareSemVer(parseSemVer(a)!, parseSemVer(b)!);

describe('delegate versions (semver precedence)', () => {
  it('parses releases, pre-releases and build metadata, and refuses anything else', () => {
    expect(parseSemVer('1.2.3')).toEqual({ major: 1, minor: 2, patch: 3, prerelease: [] });
    expect(parseSemVer('1.2.3-rc.1+build.5')).toEqual({ major: 1, minor: 2, patch: 3, prerelease: ['rc', '1'] });
    for (const bad of ['unknown', '', '1.2', 'v1.2.3', '01.2.3', '1.2.3-', '1.2.3-01', '1.2.3 ', '1.2.3-a..b', '99999999999999999999.0.0']) {
      expect(parseSemVer(bad), bad).toBeNull();
    }
  });

  it('orders by major, minor and patch numerically, not as text', () => {
    expect(cmp('0.10.0', '0.9.0')).toBe(1);
    expect(cmp('1.0.0', '0.99.99')).toBe(1);
    expect(cmp('0.1.2', '0.1.10')).toBe(-1);
    expect(cmp('2.3.4', '2.3.4')).toBe(0);
  });

  it('puts a pre-release before its release and orders identifiers as semver 2.0.0 says', () => {
    const ordered = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
    for (let i = 0; i + 1 < ordered.length; i++) {
      expect(cmp(ordered[i]!, ordered[i + 1]!), `${ordered[i]} < ${ordered[i + 1]}`).toBe(-1);
      expect(cmp(ordered[i + 1]!, ordered[i]!)).toBe(1);
    }
    expect(cmp('1.0.0+a', '1.0.0+b')).toBe(0);
  });

  it('marks older and unparseable versions outdated, the current and newer ones not', () => {
    const release = new DelegateRelease('0.5.0');
    expect(release.isOutdated('0.4.9')).toBe(true);
    expect(release.isOutdated('0.5.0-rc.1')).toBe(true);
    expect(release.isOutdated('unknown')).toBe(true);
    expect(release.isOutdated('dev-build')).toBe(true);
    expect(release.isOutdated('0.5.0')).toBe(false);
    expect(release.isOutdated('0.5.0+sha.abc')).toBe(false);
    expect(release.isOutdated('0.6.0-canary.1')).toBe(false);
  });

  it('refuses a current release that is not a version', () => {
    expect(() => new DelegateRelease('latest')).toThrow(/not a semantic version/);
  });
});
