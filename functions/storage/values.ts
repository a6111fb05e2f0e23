// An app's variables (APP#<app> / #VALUES): per environment and per cluster, one small item
// (at most LIMITS.maxAppValuesBytes), replaced whole by each PUT.
import type { AppValues } from '../../lib/api/schemas.ts';
import { keys } from './keys.ts';
import type { Table } from './table.ts';

export type ValuesRecord = Omit<AppValues, 'app'>;

export class ValuesStorage {
  constructor(private readonly table: Table) {}

  async get(app: string, consistent = false): Promise<ValuesRecord | null> {
    const item = await this.table.get<ValuesRecord>(keys.appValues(app), consistent);
    return item ? { environments: item.environments ?? {}, clusters: item.clusters ?? {}, updatedAt: item.updatedAt ?? null, updatedBy: item.updatedBy ?? null } : null;
  }

  async put(app: string, values: ValuesRecord): Promise<void> {
    await this.table.put({ ...keys.appValues(app), type: 'app-values', ...values });
  }
}
