// cluster.stale: the event of a cluster that stopped checking in, found by the clock's fleet scan
// (functions/clock.ts: a schedule on AWS, a timer under `npm start`). One event per stale spell:
// its id and time come from the last check-in, and it is written only if absent, so every scan
// that sees the same spell finds it there.
import { createHash } from 'node:crypto';
import type { Event } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import type { ClusterRecord, ClusterStatusRecord } from '../model.ts';

/** The event of the spell that began `staleAfterSeconds` after `lastSeen`. */
export function staleEvent(cluster: ClusterRecord, lastSeen: string, staleAfterSeconds: number): Event {
  const at = Date.parse(lastSeen) + staleAfterSeconds * 1000;
  const suffix = createHash('sha256').update(`stale ${cluster.name} ${lastSeen}`).digest('hex').slice(0, 16);
  return {
    id: at.toString(16).padStart(12, '0') + '0000' + suffix,
    type: 'cluster.stale',
    at: new Date(at).toISOString(),
    actor: 'clock',
    cluster: cluster.name,
    environment: cluster.environment,
    region: cluster.region,
    message: `${cluster.name} has not checked in since ${lastSeen} (stale after ${staleAfterSeconds} s)`,
    data: { lastSeen, staleAfterSeconds },
  };
}

/**
 * Records the stale spells that began since a few scans ago (older ones were recorded by those
 * scans); a cluster never seen is not stale in this sense.
 */
export async function recordStaleClusters(services: Services, clusters: ClusterRecord[], statuses: Map<string, Pick<ClusterStatusRecord, 'lastSeen'>>): Promise<number> {
  const { config } = services;
  const now = services.now().getTime();
  const window = Math.max(3 * config.fleetScanSeconds, 900) * 1000;
  let recorded = 0;
  for (const cluster of clusters) {
    const lastSeen = statuses.get(cluster.name)?.lastSeen;
    if (!lastSeen || cluster.revoked) continue;
    const began = Date.parse(lastSeen) + config.staleAfterSeconds * 1000;
    if (began > now || now - began > window) continue;
    if (await services.storage.events.createOnce(staleEvent(cluster, lastSeen, config.staleAfterSeconds))) recorded++;
  }
  return recorded;
}
