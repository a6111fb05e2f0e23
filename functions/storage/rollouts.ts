// Rollouts (ROLLOUT#<app>#<env> / <seq>): one per promotion into an environment with waves. The
// latest of an (app, environment) is the one that counts; `rev` orders every change to it, so
// concurrent advancers never both apply a step. Active ones are in the ROLLOUTS collection.
import type { Rollout } from '../../lib/api/schemas.ts';
import { collections, keys, rolloutsPartition } from './keys.ts';
import type { Table } from './table.ts';

/** A rollout as stored: the API view (without computed progress) plus its revision. */
export type RolloutRecord = Omit<Rollout, 'progress'> & { seq: number; rev: number; eventId: string; idempotencyKey?: string };

const ACTIVE: Rollout['status'][] = ['running', 'paused'];

export class RolloutStorage {
  constructor(private readonly table: Table) {}

  /** Strongly consistent: the latest rollout of the app in the environment, or null. */
  async latest(app: string, environment: string): Promise<RolloutRecord | null> {
    const [latest] = await this.table.partition<RolloutRecord>(rolloutsPartition(app, environment), undefined, { consistent: true, newestFirst: true, limit: 1 });
    return latest ?? null;
  }

  get(app: string, environment: string, seq: number) {
    return this.table.get<RolloutRecord>(keys.rollout(app, environment, seq), true);
  }

  /** Every rollout of the app in the environment, oldest first. */
  list(app: string, environment: string) {
    return this.table.partition<RolloutRecord>(rolloutsPartition(app, environment), undefined, { consistent: true });
  }

  /** Starts a rollout at `seq`; false when another one took that number first. */
  create(rollout: RolloutRecord): Promise<boolean> {
    return this.table.create({ ...keys.rollout(rollout.app, rollout.environment, rollout.seq), type: 'rollout', ...activeIndex(rollout), ...rollout });
  }

  /**
   * Replaces the rollout's state if nobody changed it since `expectedRev` was read; the stored
   * revision becomes expectedRev + 1. False when another change came first.
   */
  replace(rollout: RolloutRecord, expectedRev: number): Promise<boolean> {
    const next = { ...rollout, rev: expectedRev + 1 };
    // The whole item: one no longer active drops out of the ROLLOUTS index with its attributes.
    const item = { ...keys.rollout(rollout.app, rollout.environment, rollout.seq), type: 'rollout', ...activeIndex(next), ...next };
    return this.table.putIf(item, '#rev = :expected', { names: { '#rev': 'rev' }, values: { ':expected': expectedRev } });
  }


  /** Rollouts still running or paused, everywhere (for the clock). */
  async active(): Promise<RolloutRecord[]> {
    return this.table.collection<RolloutRecord>(collections.activeRollouts);
  }
}

function activeIndex(rollout: RolloutRecord): { gsi1pk?: string; gsi1sk?: string } {
  return ACTIVE.includes(rollout.status) ? { gsi1pk: collections.activeRollouts, gsi1sk: `${rollout.app}#${rollout.environment}#${rollout.seq}` } : {};
}
