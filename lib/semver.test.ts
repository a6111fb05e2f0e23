import { describe, expect, it } from 'vitest';
import { highestInRange, isValidRange, normalizeVersion } from './semver.ts';

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
