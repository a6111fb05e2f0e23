// Promotion records, append-only (PINS#<app>#<env> / <region|*>#<seq>): the head of each region's
// history is its pin. The conditional put on the sequence number makes concurrent promotions safe.
import type { PromotionRecord } from '../../lib/api/schemas.ts';
import { ENV_WIDE, collections, keys, pinsPartition, prefixes, promotionPosition } from './keys.ts';
import { pinName } from '../model.ts';
import { ConflictError, attributeFilter, type CollectionPage, type Table } from './table.ts';

export class PromotionStorage {
  constructor(private readonly table: Table) {}

  /** Strongly consistent: the current head of one pin's history (a region's, a wave group's, or the environment's), or null. */
  async head(app: string, environment: string, region: string | null, group?: string): Promise<PromotionRecord | null> {
    const [head] = await this.table.partition<PromotionRecord>(pinsPartition(app, environment), group ? prefixes.groupPin(group) : prefixes.pin(region), {
      consistent: true,
      newestFirst: true,
      limit: 1,
    });
    return head ?? null;
  }

  /**
   * Appends a record at `record.seq`: exactly one writer gets each seq, the others get a ConflictError.
   */
  async append(record: PromotionRecord): Promise<void> {
    const created = await this.table.create({
      ...keys.promotion(record.app, record.environment, record.region, record.seq, record.group),
      type: 'promotion',
      gsi1pk: collections.promotions(record.app),
      gsi1sk: promotionPosition(record.at, record.environment, record.region, record.seq, record.group),
      ...record,
    });
    if (!created) throw new ConflictError('another promotion of this target was accepted first; retry with fresh state');
  }

  /** The whole history of one pin, oldest first (strongly consistent). */
  history(app: string, environment: string, region: string | null, group?: string) {
    return this.table.partition<PromotionRecord>(pinsPartition(app, environment), group ? prefixes.groupPin(group) : prefixes.pin(region), { consistent: true });
  }

  /** Every record of an app in an environment, all regions, oldest first per region (strongly consistent). */
  all(app: string, environment: string) {
    return this.table.partition<PromotionRecord>(pinsPartition(app, environment), undefined, { consistent: true });
  }

  /** The pins of an app in an environment: the head record of each region (null region = environment-wide). */
  async pins(app: string, environment: string): Promise<PromotionRecord[]> {
    const records = await this.all(app, environment);
    const heads = new Map<string, PromotionRecord>();
    for (const record of records) heads.set(pinName(record), record); // ascending: the last per pin wins
    return [...heads.values()];
  }

  /** A page of the app's promotion records in time order, optionally of one environment and region. */
  list(app: string, page: CollectionPage & { environment?: string; region?: string }) {
    return this.table.collectionPage<PromotionRecord>(collections.promotions(app), { ...page, filter: attributeFilter({ environment: page.environment, region: page.region }) });
  }
}

