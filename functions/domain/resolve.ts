// Desired-state resolution: which version of which app a cluster runs. Pure functions.
import type { App, DesiredApp, DesiredState, PromotionRecord, Release } from '../../lib/api/schemas.ts';
import { highestInRange } from '../../lib/semver.ts';
import { pinName, type ClusterRecord, type DesiredEntry, type PolicyRecord } from '../model.ts';
import { substitutionFor } from './variables.ts';

/** The highest non-blocked release inside the range, like Flux's `ref.semver`. */
export function trackedRelease(releases: Release[], range: string): Release | null {
  const eligible = releases.filter((release) => !release.blocked);
  const version = highestInRange(
    eligible.map((release) => release.version),
    range,
  );
  return eligible.find((release) => release.version === version) ?? null;
}

/**
 * The pins in force: per region (null: environment-wide), the newest record whose release is not
 * blocked. Records are append-only and a block can land between a promotion's checks and its
 * write; skipping blocked releases here is what makes "no cluster resolves a blocked release" hold
 * whatever the interleaving. A blocked head falls back to the newest good version of its history.
 */
export function effectivePins(records: PromotionRecord[], releases: Release[]): PromotionRecord[] {
  const good = new Set(releases.filter((release) => !release.blocked).map((release) => release.version));
  const byPin = new Map<string, PromotionRecord>();
  for (const record of [...records].sort((a, b) => a.seq - b.seq)) {
    if (good.has(record.toVersion)) byPin.set(pinName(record), record);
  }
  return [...byPin.values()];
}

/**
 * The entry every cluster of one environment resolves one app from: the environment-wide version
 * (environment pin, else tracked range) and the region pins. Null when the app is not deployed there.
 * `records` is the promotion history of the app in the environment (every region).
 */
export function buildDesiredEntry(
  app: App | null,
  policy: PolicyRecord | null,
  releases: Release[],
  records: PromotionRecord[],
): DesiredEntry | null {
  if (!app || (!policy && records.length === 0)) return null;
  const pins = effectivePins(records, releases);
  const envPin = pins.find((pin) => pin.region === null && !pin.group);
  const tracked = !envPin && policy?.track ? trackedRelease(releases, policy.track) : null;
  const version = envPin
    ? { version: envPin.toVersion, digest: envPin.digest }
    : tracked
      ? { version: tracked.version, digest: tracked.digest }
      : null;
  const regions: DesiredEntry['regions'] = {};
  for (const pin of pins) if (pin.region && !pin.group) regions[pin.region] = { version: pin.toVersion, digest: pin.digest };
  const groups = pins
    .filter((pin) => pin.group)
    .sort((a, b) => (a.waveIndex ?? 0) - (b.waveIndex ?? 0) || a.group!.localeCompare(b.group!))
    .map((pin) => ({ name: pin.group!, selector: pin.selector ?? {}, version: pin.toVersion, digest: pin.digest }));
  const { name: _name, createdAt: _c, updatedAt: _u, ...spec } = app;
  return { app: app.name, spec, version, regions, ...(groups.length ? { groups } : {}), ...(policy?.verify ? { verify: policy.verify } : {}) };
}

/** What one cluster runs: its region's pin, else the first wave group it belongs to, else the environment-wide version. */
export function versionForCluster(entry: DesiredEntry, cluster: { region: string; labels: Record<string, string> }) {
  if (Object.hasOwn(entry.regions, cluster.region)) return entry.regions[cluster.region];
  const group = entry.groups?.find((candidate) => selectorMatches(candidate.selector, cluster.labels));
  return group ? { version: group.version, digest: group.digest } : entry.version;
}

/** Region pin, else the environment-wide version. */
export function versionForRegion(entry: DesiredEntry, region: string) {
  return (Object.hasOwn(entry.regions, region) ? entry.regions[region] : undefined) ?? entry.version;
}

export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string>) {
  return Object.entries(selector ?? {}).every(([key, value]) => Object.hasOwn(labels, key) && labels[key] === value);
}

export function isSuspensionActive(suspension: { until: string | null } | null | undefined, now: Date): boolean {
  return !!suspension && (suspension.until === null || Date.parse(suspension.until) > now.getTime());
}

/**
 * The signatures a cluster requires of an app's artifacts: the app's key, and its environment's key
 * on top of it. An environment adds a requirement and never lifts the app's: both must verify.
 */
export function verificationOf(entry: DesiredEntry): Pick<DesiredApp, 'verify'> {
  const keys: NonNullable<DesiredApp['verify']>['keys'] = [];
  if (entry.spec.verify) keys.push({ from: 'app', publicKey: entry.spec.verify.publicKey });
  if (entry.verify && entry.verify.publicKey !== entry.spec.verify?.publicKey) keys.push({ from: 'environment', publicKey: entry.verify.publicKey });
  return keys.length ? { verify: { provider: 'cosign', keys } } : {};
}

export function resolveDesiredState(
  cluster: ClusterRecord,
  entries: DesiredEntry[],
  now: Date,
  intervalSeconds: number,
  heartbeatSeconds?: number,
): DesiredState {
  const apps: DesiredApp[] = [];
  for (const entry of entries) {
    if (!selectorMatches(entry.spec.clusterSelector, cluster.labels)) continue;
    const resolved = versionForCluster(entry, cluster);
    if (!resolved) continue;
    apps.push({
      name: entry.app,
      version: resolved.version,
      digest: resolved.digest,
      repository: entry.spec.repository,
      path: entry.spec.path,
      namespace: entry.spec.namespace,
      prune: entry.spec.prune,
      wait: entry.spec.wait,
      timeoutSeconds: entry.spec.timeoutSeconds,
      recreate: entry.spec.recreate,
      suspended: isSuspensionActive(cluster.suspendedApps[entry.app], now),
      dependsOn: entry.spec.dependsOn ?? [],
      drift: entry.spec.drift ?? 'correct',
      ...verificationOf(entry),
      ...substitutionFor(cluster, entry),
    });
  }
  apps.sort((a, b) => a.name.localeCompare(b.name));
  return {
    cluster: cluster.name,
    environment: cluster.environment,
    region: cluster.region,
    suspended: isSuspensionActive(cluster.suspended, now),
    apps,
    interval: intervalSeconds,
    ...(heartbeatSeconds === undefined ? {} : { heartbeat: heartbeatSeconds }),
  };
}
