// The fleet matrix, app × environment × region, with what should run and what does: read from the
// fleet cells (storage/fleet.ts), so its cost is the number of cells, not of clusters. Reports move
// the counts as they land; the clock recounts changed cells from their status items and, less
// often, scans each environment's clusters to count them and the stale ones.
import type { Fleet } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import { recordStaleClusters } from './stale.ts';
import type { ClusterRecord, ClusterStatusRecord, DesiredEntry } from '../model.ts';
import type { FleetCellRecord } from '../storage/fleet.ts';
import { contribution } from '../storage/fleet.ts';
import { selectorMatches, versionForRegion } from './resolve.ts';

/**
 * A changed cell is recounted once it has been quiet this long (reports still being stored have
 * ended: the Lambda timeout is 20 s; the index has caught up), and at least this often while it
 * keeps changing: the counts reports move are exact but for a crash or a retry, so recounting
 * after each burst, not after each report, is enough.
 */
export const RECOUNT_GRACE_MS = 30_000;
export const RECOUNT_WHILE_CHANGING_MS = 10 * 60_000;

/** Whether the clock recounts the cell now: changed since it was last counted quiet, and quiet now (or uncounted for long). */
export function recountDue(cell: Pick<FleetCellRecord, 'dirtyAt' | 'countedAt'>, now: number): boolean {
  if (cell.dirtyAt === undefined) return false;
  const countedQuiet = cell.countedAt !== undefined && cell.countedAt >= cell.dirtyAt + RECOUNT_GRACE_MS;
  if (countedQuiet) return false;
  return now >= cell.dirtyAt + RECOUNT_GRACE_MS || now - (cell.countedAt ?? 0) >= RECOUNT_WHILE_CHANGING_MS;
}

/** Staleness is derived from the heartbeat: a registered cluster not seen for `staleAfterSeconds`. */
export function isStale(cluster: ClusterRecord, status: Pick<ClusterStatusRecord, 'lastSeen'>, now: Date, staleAfterSeconds: number): boolean {
  if (!status.lastSeen) return cluster.keyId !== null;
  return now.getTime() - Date.parse(status.lastSeen) > staleAfterSeconds * 1000;
}

type Cell = Fleet['cells'][number];

/** The cells of one environment: one per app deployed there and region that has its clusters or a pin. */
export function buildCells(environment: string, entries: DesiredEntry[], stored: FleetCellRecord[]): Cell[] {
  const cells: Cell[] = [];
  for (const entry of entries) {
    const counted = new Map(stored.filter((cell) => cell.app === entry.app).map((cell) => [cell.region, cell]));
    const regions = new Set([...[...counted.values()].filter((cell) => cell.reported > 0 || (cell.clusters ?? 0) > 0).map((cell) => cell.region), ...Object.keys(entry.regions)]);
    for (const region of [...regions].sort()) {
      const cell = counted.get(region);
      const reported = cell?.reported ?? 0;
      const clusters = Math.max(reported, cell?.clusters ?? 0);
      const phases = { ...cell?.phases };
      if (clusters > reported) phases.Pending = clusters - reported;
      cells.push({
        app: entry.app,
        environment,
        region,
        desiredVersion: versionForRegion(entry, region)?.version ?? null,
        clusters,
        phases,
        versions: { ...cell?.versions },
        drifted: cell?.drifted ?? 0,
        stale: Math.min(cell?.stale ?? 0, clusters),
      });
    }
  }
  return cells;
}

export interface FleetViewOptions {
  /** Only these apps' rows (the dashboard's page of apps). */
  apps?: ReadonlySet<string>;
  /**
   * Read the latest rollout only where the environment has waves now (rollouts start only there):
   * its queries then number apps × environments with waves, not apps × environments (the dashboard).
   */
  rolloutsWhereWaves?: boolean;
}

/**
 * The whole matrix: per environment its entries and cells (one query each), per (app, environment)
 * its latest rollout.
 */
export async function fleetView(services: Services, { apps, rolloutsWhereWaves = false }: FleetViewOptions = {}): Promise<Fleet> {
  const { storage } = services;
  const environments = await storage.environments.list();
  const perEnvironment = await Promise.all(
    environments.map(async (env) => {
      const [entries, stored] = await Promise.all([storage.desired.list(env.name), storage.fleet.cells(env.name)]);
      return buildCells(env.name, apps ? entries.filter((entry) => apps.has(entry.app)) : entries, stored);
    }),
  );
  const cells = perEnvironment.flat().sort((a, b) => `${a.app}/${a.environment}/${a.region}`.localeCompare(`${b.app}/${b.environment}/${b.region}`));
  const waved = new Set(environments.filter((env) => (env.waves?.length ?? 0) > 0).map((env) => env.name));
  const pairs = [...new Set(cells.filter((cell) => !rolloutsWhereWaves || waved.has(cell.environment)).map((cell) => `${cell.app} ${cell.environment}`))];
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
  return { cells: cells.map((cell) => ({ ...cell, rollout: rollouts.get(`${cell.app} ${cell.environment}`) ?? null })), generatedAt: services.now().toISOString() };
}

/**
 * The clock's part: recounts the cells due (recountDue) from their status items (one index query
 * per cell), and scans environments not scanned for `fleetScanSeconds`. Returns how many cells it recounted and environments it scanned.
 */
export async function maintainFleet(services: Services): Promise<{ recounted: number; scanned: number }> {
  const { storage, config } = services;
  const now = services.now().getTime();
  let recounted = 0;
  let scanned = 0;
  for (const environment of await storage.environments.list()) {
    const cells = await storage.fleet.cells(environment.name, true);
    for (const cell of cells) {
      if (!recountDue(cell, now)) continue;
      const statuses = await storage.clusters.appStatuses(cell.environment, cell.app, cell.region);
      const contributions = statuses.filter((status) => status.region === cell.region).map((status) => contribution(status)!);
      if (await storage.fleet.recount(cell, contributions, now)) recounted += 1;
    }
    if (now - (await storage.fleet.lastScan(environment.name)) >= config.fleetScanSeconds * 1000) {
      await scanEnvironment(services, environment.name, cells);
      await storage.fleet.recordScan(environment.name, now);
      scanned += 1;
    }
  }
  return { recounted, scanned };
}

/** Counts, per cell of the environment, the clusters that run the app and how many are stale. */
async function scanEnvironment(services: Services, environment: string, stored: FleetCellRecord[]): Promise<void> {
  const { storage, config } = services;
  const now = services.now();
  const [clusters, entries] = await Promise.all([storage.clusters.allIn(environment), storage.desired.list(environment)]);
  const statuses = await storage.clusters.statuses(clusters.map((cluster) => cluster.name));
  const counts = new Map<string, { app: string; region: string; clusters: number; stale: number }>();
  for (const cell of stored) counts.set(`${cell.app}#${cell.region}`, { app: cell.app, region: cell.region, clusters: 0, stale: 0 });
  for (const cluster of clusters) {
    const stale = isStale(cluster, statuses.get(cluster.name) ?? { lastSeen: null }, now, config.staleAfterSeconds);
    for (const entry of entries) {
      if (!selectorMatches(entry.spec.clusterSelector, cluster.labels)) continue;
      const key = `${entry.app}#${cluster.region}`;
      const count = counts.get(key) ?? { app: entry.app, region: cluster.region, clusters: 0, stale: 0 };
      count.clusters += 1;
      if (stale) count.stale += 1;
      counts.set(key, count);
    }
  }
  await recordStaleClusters(services, clusters, statuses);
  const at = now.toISOString();
  for (const count of counts.values()) await storage.fleet.scanned(environment, count.app, count.region, count.clusters, count.stale, at);
}
