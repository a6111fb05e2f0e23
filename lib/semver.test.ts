import { describe, expect, it } from 'vitest';
import { compareVersions, highestInRange, isValidRange, normalizeVersion, versionSortKey } from './semver.ts';

describe('semver helpers', () => {
  it.each([
    ['1.2.3', '1.2.3'],
    ['v1.2.3', '1.2.3'],
    ['1.0.0-rc.1+build.5', '1.0.0-rc.1+build.5'],
    ['1.2', null],
    ['01.2.3', null],
    [' 1.2.3', null],
    ['vv1.2.3', null],
    ['latest', null],
  ])('normalizes %j to %j', (input, expected) => {
    expect(normalizeVersion(input)).toBe(expected);
  });

  it('validates ranges', () => {
    expect(isValidRange('^1.0.0')).toBe(true);
    expect(isValidRange('>=1.2 <2')).toBe(true);
    expect(isValidRange('not a range')).toBe(false);
    expect(isValidRange('')).toBe(false);
  });

  it('picks the highest release in range and ignores prereleases unless asked', () => {
    const versions = ['1.0.0', '1.0.1', '1.1.0-rc.1', '2.0.0'];
    expect(highestInRange(versions, '^1.0.0')).toBe('1.0.1');
    expect(highestInRange(versions, '>=1.1.0-rc.0 <2')).toBe('1.1.0-rc.1');
    expect(highestInRange(versions, '^3.0.0')).toBeNull();
  });
});

describe('version sort keys', () => {
  it('sort as semver precedence', () => {
    const versions = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.2.0', '1.10.0', '2.0.0-0', '2.0.0', '10.0.0', '1.0.0-alpha-b', '1.0.0-alpha.1.x', '9007199254740991.0.0'];
    const bySemver = [...versions].sort(compareVersions);
    const byKey = [...versions].sort((a, b) => (versionSortKey(a) < versionSortKey(b) ? -1 : versionSortKey(a) > versionSortKey(b) ? 1 : 0));
    expect(byKey).toEqual(bySemver);
  });
});
