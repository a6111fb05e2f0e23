// The fleet's counts, one item per (environment, app, region) cell (FLEET#<env> / CELL#<app>#<region>):
// derived data the fleet view reads instead of every cluster. Reports add their changes to the
// counts at once; the clock recounts a changed cell from its status items (repairing whatever a
// crash or a race left), and counts clusters and stale ones per cell on its slower scan.
import { randomUUID } from 'node:crypto';
import { normalizeVersion } from '../../lib/semver.ts';
import type { AppStatusRecord } from '../model.ts';
import { fleetPartition, keys, prefixes } from './keys.ts';
import { strip, type Item, type Table } from './table.ts';

/** What one cluster contributes to a cell: its app's phase and version, and whether it drifted. */
export interface Contribution {
  phase: string;
  version: string | null;
  drifted: boolean;
}

export interface FleetCellRecord {
  environment: string;
  app: string;
  region: string;
  /** Clusters that reported the app, by phase and by version; how many have open drift. */
  reported: number;
  phases: Record<string, number>;
  versions: Record<string, number>;
  drifted: number;
  /** From the clock's scan: clusters of the region that run the app (its selector), and how many are stale. */
  clusters?: number;
  stale?: number;
  scannedAt?: string;
  /** A change since the last recount: its token and time. */
  dirty?: string;
  dirtyAt?: number;
  countedAt?: number;
}

/** What an app's status adds to its fleet cell: versions only as releases spell them (an agent's other text is not counted). */
export function contribution(status: AppStatusRecord | undefined): Contribution | null {
  if (!status) return null;
  const version = status.version !== null && status.version.length <= 64 ? normalizeVersion(status.version) : null;
  return { phase: status.phase, version, drifted: status.drifted > 0 };
}

const PHASE = 'p:';
const VERSION = 'v:';

function fromItem(item: Item): FleetCellRecord {
  const phases: Record<string, number> = {};
  const versions: Record<string, number> = {};
  for (const [name, value] of Object.entries(item)) {
    if (typeof value !== 'number' || value <= 0) continue;
    if (name.startsWith(PHASE)) phases[name.slice(PHASE.length)] = value;
    else if (name.startsWith(VERSION)) versions[name.slice(VERSION.length)] = value;
  }
  const rest = Object.fromEntries(Object.entries(strip<Item>(item)).filter(([name]) => !name.startsWith(PHASE) && !name.startsWith(VERSION)));
  const record = rest as Omit<FleetCellRecord, 'phases' | 'versions'>;
  return { ...record, reported: record.reported ?? 0, drifted: record.drifted ?? 0, phases, versions };
}

function counts(contributions: Contribution[]): Item {
  const item: Record<string, number> = { reported: contributions.length, drifted: 0 };
  for (const contribution of contributions) {
    item[PHASE + contribution.phase] = (item[PHASE + contribution.phase] ?? 0) + 1;
    if (contribution.version) item[VERSION + contribution.version] = (item[VERSION + contribution.version] ?? 0) + 1;
    if (contribution.drifted) item.drifted! += 1;
  }
  return item;
}

export class FleetStorage {
  constructor(private readonly table: Table) {}

  /** Every cell of an environment: one query, as many items as apps × regions. */
  async cells(environment: string, consistent = false): Promise<FleetCellRecord[]> {
    const items = await this.table.query({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': fleetPartition(environment), ':prefix': prefixes.fleetCell },
      ConsistentRead: consistent,
    });
    return items.map(fromItem);
  }

  /**
   * Moves one cluster's contribution from `from` to `to` (either may be null: it arrives, it leaves)
   * and marks the cell changed, so the clock recounts it. Not idempotent by itself (a retry adds
   * twice): the recount is what makes the counts exact.
   */
  async move(environment: string, app: string, region: string, from: Contribution | null, to: Contribution | null, now: number): Promise<void> {
    const delta = new Map<string, number>();
    const add = (name: string, by: number) => delta.set(name, (delta.get(name) ?? 0) + by);
    for (const [contribution, by] of [[from, -1], [to, 1]] as const) {
      if (!contribution) continue;
      add('reported', by);
      add(PHASE + contribution.phase, by);
      if (contribution.version) add(VERSION + contribution.version, by);
      if (contribution.drifted) add('drifted', by);
    }
    const changes = [...delta].filter(([, by]) => by !== 0);
    const names: Record<string, string> = { '#dirty': 'dirty', '#dirtyAt': 'dirtyAt', '#e': 'environment', '#a': 'app', '#r': 'region' };
    const values: Item = { ':dirty': randomUUID(), ':now': now, ':e': environment, ':a': app, ':r': region };
    changes.forEach(([name, by], i) => {
      names[`#c${i}`] = name;
      values[`:c${i}`] = by;
    });
    const adds = changes.map((_, i) => `#c${i} :c${i}`).join(', ');
    await this.table.update(keys.fleetCell(environment, app, region), `SET #dirty = :dirty, #dirtyAt = :now, #e = :e, #a = :a, #r = :r${adds ? ` ADD ${adds}` : ''}`, names, values, null);
  }

  /** Adds to a cell's cluster count (a cluster created or moved), before the clock's scan counts it. */
  async addClusters(environment: string, app: string, region: string, by: number): Promise<void> {
    await this.table.update(keys.fleetCell(environment, app, region), 'SET #e = :e, #a = :a, #r = :r ADD #clusters :by', { '#e': 'environment', '#a': 'app', '#r': 'region', '#clusters': 'clusters' }, { ':e': environment, ':a': app, ':r': region, ':by': by }, null);
  }

  /**
   * Replaces a cell's status counts with a recount, unless a report changed it since `seen` was read
   * (then the next run recounts it again). Keeps what the scan wrote.
   */
  async recount(seen: FleetCellRecord, contributions: Contribution[], now: number): Promise<boolean> {
    const { environment, app, region } = seen;
    const item = {
      ...keys.fleetCell(environment, app, region),
      type: 'fleet-cell',
      environment,
      app,
      region,
      ...counts(contributions),
      ...(seen.clusters === undefined ? {} : { clusters: seen.clusters, stale: seen.stale ?? 0, scannedAt: seen.scannedAt }),
      ...(seen.dirty === undefined ? {} : { dirty: seen.dirty, dirtyAt: seen.dirtyAt }),
      countedAt: now,
    };
    return seen.dirty === undefined
      ? this.table.putIf(item, 'attribute_not_exists(#dirty)', { names: { '#dirty': 'dirty' } })
      : this.table.putIf(item, '#dirty = :dirty', { names: { '#dirty': 'dirty' }, values: { ':dirty': seen.dirty } });
  }

  /** Writes a cell whole from a recount, unconditionally, marked changed (the clock recounts it once more when quiet). */
  async rewrite(environment: string, app: string, region: string, contributions: Contribution[], now: number): Promise<void> {
    await this.table.put({ ...keys.fleetCell(environment, app, region), type: 'fleet-cell', environment, app, region, ...counts(contributions), dirty: randomUUID(), dirtyAt: now, countedAt: now });
  }

  /** The scan's figures for a cell: clusters that run the app in the region, and how many are stale. */
  async scanned(environment: string, app: string, region: string, clusters: number, stale: number, at: string): Promise<void> {
    await this.table.set(keys.fleetCell(environment, app, region), { environment, app, region, clusters, stale, scannedAt: at }, null);
  }

  /** When the clock last scanned the environment's clusters (epoch ms), and recording a scan. */
  async lastScan(environment: string): Promise<number> {
    const item = await this.table.get<{ at?: number }>({ pk: fleetPartition(environment), sk: '#SCAN' }, true);
    return item?.at ?? 0;
  }

  async recordScan(environment: string, at: number): Promise<void> {
    await this.table.put({ pk: fleetPartition(environment), sk: '#SCAN', at });
  }
}
