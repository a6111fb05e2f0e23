// The org-wide freeze (ORG / #FREEZE): while it holds, no promotion or wave advance goes
// through except by break-glass. Lifting keeps who lifted it, so the item says what happened last.
import type { Freeze } from '../../lib/api/schemas.ts';
import { keys } from './keys.ts';
import type { Table } from './table.ts';

export type FreezeRecord = Freeze & { eventId: string; lifted?: { by: string; reason: string; at: string; eventId: string } };

export class FreezeStorage {
  constructor(private readonly table: Table) {}

  get(consistent = false) {
    return this.table.get<FreezeRecord>(keys.freeze(), consistent);
  }

  async put(freeze: FreezeRecord): Promise<void> {
    await this.table.put({ ...keys.freeze(), type: 'freeze', ...freeze });
  }

  /** Lifts a freeze that is not lifted yet; false when there is none to lift. */
  lift(lifted: NonNullable<FreezeRecord['lifted']>): Promise<boolean> {
    return this.table.set(keys.freeze(), { lifted }, 'attribute_exists(pk) AND attribute_not_exists(#lifted)', { names: { '#lifted': 'lifted' } });
  }
}
