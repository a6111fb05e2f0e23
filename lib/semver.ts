// Strict semver helpers shared by the control plane and the CLI.
import semver from 'semver';

// The regular expression published with the Semantic Versioning 2.0.0 specification.
const STRICT_SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** `v1.2.3` → `1.2.3`; anything that is not a strict semantic version → null. */
export function normalizeVersion(input: string): string | null {
  const candidate = input.startsWith('v') ? input.slice(1) : input;
  // semver.parse forgives whitespace and prefixes; the spec's own grammar does not.
  return STRICT_SEMVER.test(candidate) ? candidate : null;
}

export function isValidRange(range: string): boolean {
  return range.trim() !== '' && semver.validRange(range, { loose: false }) !== null;
}

/** Highest version satisfying the range, like Flux's `ref.semver`; prereleases only when the range names one. */
export function highestInRange(versions: Iterable<string>, range: string): string | null {
  return semver.maxSatisfying([...versions], range, { loose: false });
}

export function compareVersions(a: string, b: string): number {
  return semver.compare(a, b);
}
