// The fleet matrix: app × environment × region, with what should run and what does.
import type { Fleet } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import type { ClusterRecord, DesiredEntry } from '../model.ts';
import { selectorMatches, versionForRegion } from './resolve.ts';

export interface FleetCell {
  app: string;
  environment: string;
  region: string;
  desiredVersion: string | null;
  clusters: number;
  phases: Record<string, number>;
  versions: Record<string, number>;
  drifted: number;
  stale: number;
}

/** Staleness is derived from the heartbeat: a registered cluster not seen for `staleAfterSeconds`. */
export function isStale(cluster: ClusterRecord, now: Date, staleAfterSeconds: number): boolean {
  if (!cluster.lastSeen) return cluster.keyId !== null;
  return now.getTime() - Date.parse(cluster.lastSeen) > staleAfterSeconds * 1000;
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

export function buildFleet(
  entriesByEnvironment: Map<string, DesiredEntry[]>,
  clusters: ClusterRecord[],
  isStale: (cluster: ClusterRecord) => boolean,
): FleetCell[] {
  const cells: FleetCell[] = [];
  for (const [environment, entries] of entriesByEnvironment) {
    const members = clusters.filter((cluster) => cluster.environment === environment);
    for (const entry of entries) {
      const regions = new Set([...members.map((cluster) => cluster.region), ...Object.keys(entry.regions)]);
      for (const region of [...regions].sort()) {
        const cell: FleetCell = {
          app: entry.app,
          environment,
          region,
          desiredVersion: versionForRegion(entry, region)?.version ?? null,
          clusters: 0,
          phases: {},
          versions: {},
          drifted: 0,
          stale: 0,
        };
        for (const cluster of members) {
          if (cluster.region !== region || !selectorMatches(entry.spec.clusterSelector, cluster.labels)) continue;
          const status = cluster.apps[entry.app];
          cell.clusters += 1;
          bump(cell.phases, status?.phase ?? 'Pending');
          if (status?.version) bump(cell.versions, status.version);
          if (status && status.drifted > 0) cell.drifted += 1;
          if (isStale(cluster)) cell.stale += 1;
        }
        cells.push(cell);
      }
    }
  }
  return cells.sort((a, b) =>
    `${a.app}/${a.environment}/${a.region}`.localeCompare(`${b.app}/${b.environment}/${b.region}`),
  );
}

/** The whole matrix, from every environment's desired entries and every cluster's status summary. */
export async function fleetView(services: Services): Promise<Fleet> {
  const { storage, config } = services;
  const [environments, clusters] = await Promise.all([storage.environments.list(), storage.clusters.list()]);
  const entries = new Map(
    await Promise.all(environments.map(async (env) => [env.name, await storage.desired.list(env.name)] as const)),
  );
  const now = services.now();
  const cells = buildFleet(entries, clusters, (cluster) => isStale(cluster, now, config.staleAfterSeconds));
  // The latest rollout of each (app, environment) that has cells, one read each.
  const pairs = [...new Set(cells.map((cell) => `${cell.app} ${cell.environment}`))];
  const rollouts = new Map(
    await Promise.all(
      pairs.map(async (pair) => {
        const [app, environment] = pair.split(' ') as [string, string];
        const latest = await storage.rollouts.latest(app, environment);
        const summary = latest ? { id: latest.id, version: latest.version, status: latest.status, waves: latest.waves.map(({ name, status }) => ({ name, status })) } : null;
        return [pair, summary] as const;
      }),
    ),
  );
  return { cells: cells.map((cell) => ({ ...cell, rollout: rollouts.get(`${cell.app} ${cell.environment}`) ?? null })), generatedAt: now.toISOString() };
}
