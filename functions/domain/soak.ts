// "Ready and soaked": the one definition shared by the upstream gate and the rollout waves, so a
// cluster that satisfies one satisfies the other. Pure.
import type { Phase } from '../../lib/api/schemas.ts';

export interface SoakingCluster {
  version: string | null;
  phase: Phase | 'Pending';
  /** When the version became Ready on the cluster (continuously since). */
  readySince?: string;
}

/**
 * When the cluster has been running `version` Ready for `soakSeconds`: readySince + soak. Null
 * when it runs another version, is not Ready, or has no (parseable) readySince.
 */
export function soakedAt(cluster: SoakingCluster, version: string, soakSeconds: number): Date | null {
  if (cluster.version !== version || cluster.phase !== 'Ready' || cluster.readySince === undefined) return null;
  const readySince = Date.parse(cluster.readySince);
  return Number.isNaN(readySince) ? null : new Date(readySince + soakSeconds * 1000);
}

/** Ready at `version` since at least `soakSeconds` before `now`. */
export function isSoaked(cluster: SoakingCluster, version: string, soakSeconds: number, now: Date): boolean {
  const at = soakedAt(cluster, version, soakSeconds);
  return at !== null && at.getTime() <= now.getTime();
}
