// Strict semver helpers shared by the control plane and the CLI.
import semver from 'semver';

// The regular expression published with the Semantic Versioning 2.0.0 specification.
const STRICT_SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** `v1.2.3` → `1.2.3`; anything that is not a strict semantic version → null. */
export function normalizeVersion(input: string): string | null {
  const candidate = input.startsWith('v') ? input.slice(1) : input;
  // semver.parse forgives whitespace and prefixes; the spec's own grammar does not.
  const match = STRICT_SEMVER.exec(candidate);
  if (!match) return null;
  // Numbers beyond 2^53 cannot be compared exactly (semver refuses them too).
  const numbers = [match[1]!, match[2]!, match[3]!, ...(match[4]?.split('.').filter((id) => /^\d+$/.test(id)) ?? [])];
  return numbers.every((n) => Number.isSafeInteger(Number(n))) ? candidate : null;
}

export function isValidRange(range: string): boolean {
  return range.trim() !== '' && semver.validRange(range, { loose: false }) !== null;
}

/** Highest version satisfying the range, like Flux's `ref.semver`; prereleases only when the range names one. */
export function highestInRange(versions: Iterable<string>, range: string): string | null {
  return semver.maxSatisfying([...versions], range, { loose: false });
}

const pad = (digits: string) => digits.padStart(16, '0');

/**
 * A string whose byte order is semver precedence, for a sort key: numbers padded to 16 digits
 * (they are at most 2^53), a release after its prereleases (`~` sorts after `!`), prerelease
 * identifiers numeric before alphanumeric, and a shorter list of equal identifiers first (the
 * separator `!` sorts before every identifier character). Build metadata does not count.
 */
export function versionSortKey(version: string): string {
  const [core, ...rest] = version.split('+')[0]!.split('-');
  const prerelease = rest.join('-');
  const [major, minor, patch] = core!.split('.');
  const base = `${pad(major!)}.${pad(minor!)}.${pad(patch!)}`;
  if (!prerelease) return `${base}~`;
  const ids = prerelease.split('.').map((id) => (/^\d+$/.test(id) ? `0${pad(id)}` : `1${id}`));
  return `${base}!${ids.join('!')}`;
}

/** Semver precedence; a stored string semver cannot parse sorts by its text instead of failing the listing. */
export function compareVersions(a: string, b: string): number {
  try {
    return semver.compare(a, b);
  } catch {
    return a < b ? -1 : a > b ? 1 : 0;
  }
}
