import { describe, expect, it } from 'vitest';
import { DelegateRelease } from './delegate-release.js';
import { MAX_VERSION_LABELS, versionCensus } from './version-census.js';

const release = new DelegateRelease('1.0.0');
const byLabel = (rows: ReturnType<typeof versionCensus>) => Object.fromEntries(rows.map((r) => [`${r.version}/${r.outdated}`, r.count]));

describe('delegate version census (bounded metric labels)', () => {
  it('counts each valid version with whether it is outdated, and folds unparseable ones into unknown', () => {
    const rows = versionCensus(
      [
        { version: '1.0.0', count: 3 },
        { version: '0.9.0', count: 2 },
        { version: 'unknown', count: 1 },
        { version: 'my laptop build', count: 4 },
        { version: '1.1.0-canary.1', count: 1 },
      ],
      release,
    );
    expect(byLabel(rows)).toEqual({ '1.0.0/false': 3, '0.9.0/true': 2, 'unknown/true': 5, '1.1.0-canary.1/false': 1 });
  });

  it(`names at most ${MAX_VERSION_LABELS} versions, the most common, and sums the rest as other`, () => {
    const input = Array.from({ length: MAX_VERSION_LABELS + 5 }, (_, i) => ({ version: `0.${i}.0`, count: i + 1 }));
    input.push({ version: '2.0.0', count: 1 });
    const rows = versionCensus(input, release);
    const named = rows.filter((r) => r.version !== 'other');
    expect(named).toHaveLength(MAX_VERSION_LABELS);
    // The 20 largest counts are 0.5.0 .. 0.24.0; 0.0.0 .. 0.4.0 (1..5 delegates) and 2.0.0 (1) are folded.
    expect(named.map((r) => r.version)).not.toContain('0.4.0');
    expect(named.map((r) => r.version)).toContain('0.5.0');
    expect(byLabel(rows)['other/true']).toBe(1 + 2 + 3 + 4 + 5);
    expect(byLabel(rows)['other/false']).toBe(1);
    const total = (rs: Array<{ count: number }>) => rs.reduce((n, r) => n + r.count, 0);
    expect(total(rows)).toBe(total(input));
  });

  it('keeps the same names between scrapes when counts tie, preferring the newest', () => {
    const input = Array.from({ length: MAX_VERSION_LABELS + 1 }, (_, i) => ({ version: `0.0.${i}`, count: 1 }));
    const once = versionCensus(input, release).map((r) => r.version);
    const reversed = versionCensus([...input].reverse(), release).map((r) => r.version);
    expect(new Set(reversed)).toEqual(new Set(once));
    expect(once).toContain('0.0.20');
    expect(once).not.toContain('0.0.0');
    expect(once).toContain('other');
  });
});
