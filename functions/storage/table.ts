// The single table's generic operations, which the entity modules build their access patterns on.
// Conditional single-item writes only, no transactions.
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { sleep } from '../../lib/sleep.ts';
import type { Key } from './keys.ts';

export type Item = Record<string, unknown>;

/** A page of a collection: its size, where it starts (a previous page's `next`), an optional filter. */
export interface CollectionPage {
  limit: number;
  start?: Item;
  newestFirst?: boolean;
  filter?: { expression: string; names: Record<string, string>; values: Item };
}

/** Requests one page of a collection may make; items one filtered request evaluates. */
const MAX_PAGE_REQUESTS = 10;
const FILTERED_PAGE_ITEMS = 100;

/** A filter on plain attributes being equal to the values given (undefined ones are left out); none when all are. */
export function attributeFilter(equal: Record<string, string | undefined>): CollectionPage['filter'] {
  const entries = Object.entries(equal).filter(([, value]) => value !== undefined);
  if (entries.length === 0) return undefined;
  return {
    expression: entries.map((_, i) => `#f${i} = :f${i}`).join(' AND '),
    names: Object.fromEntries(entries.map(([name], i) => [`#f${i}`, name])),
    values: Object.fromEntries(entries.map(([, value], i) => [`:f${i}`, value])),
  };
}

/** The byCollection position of an item: where the page after it starts. */
const indexKeyOf = (item: Item) => ({ pk: String(item.pk), sk: String(item.sk), gsi1pk: String(item.gsi1pk), gsi1sk: String(item.gsi1sk) });
export type QueryInput = Omit<QueryCommandInput, 'TableName'>;

/** A write lost its condition to a concurrent one; the message says what to do. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException || (err as { name?: string })?.name === 'ConditionalCheckFailedException';

/** `#p0 = :p0, …` for the attributes given, their names and values added to the expression's maps. */
function assignments(attributes: Item, names: Record<string, string>, values: Item, prefix: string): string {
  return Object.entries(attributes)
    .map(([attribute, value], i) => {
      names[`#${prefix}${i}`] = attribute;
      values[`:${prefix}${i}`] = value;
      return `#${prefix}${i} = :${prefix}${i}`;
    })
    .join(', ');
}

/** The item without its key and index attributes. */
export function strip<T>(item: Item): T {
  const { pk: _pk, sk: _sk, gsi1pk: _a, gsi1sk: _b, gsi2pk: _c, gsi2sk: _d, gsi3pk: _e, gsi3sk: _f, type: _t, ...rest } = item;
  return rest as T;
}

export class Table {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    readonly name: string,
  ) {
    // convertClassInstanceToMap: a map with a key named `constructor` (a drifted ConfigMap may have
    // one) is still a plain map to us, not a class instance the marshaller would refuse.
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: true } });
  }

  async get<T>(key: Key, consistent = false): Promise<T | null> {
    const out = await this.doc.send(new GetCommand({ TableName: this.name, Key: key, ConsistentRead: consistent }));
    return out.Item ? strip<T>(out.Item) : null;
  }

  /** One page of a query, and where the next one starts (undefined when the query is exhausted). */
  async queryPage(input: QueryInput): Promise<{ items: Item[]; lastKey: Item | undefined }> {
    const out = await this.doc.send(new QueryCommand({ ...input, TableName: this.name }));
    return { items: out.Items ?? [], lastKey: out.LastEvaluatedKey };
  }

  /** Pages through a query until it is exhausted, `max` items are read, or `maxPages` pages. */
  async query(input: QueryInput, max = Infinity, maxPages = Infinity): Promise<Item[]> {
    const items: Item[] = [];
    let ExclusiveStartKey: Item | undefined;
    let pages = 0;
    do {
      const out = await this.doc.send(new QueryCommand({ ...input, TableName: this.name, ExclusiveStartKey }));
      items.push(...(out.Items ?? []));
      ExclusiveStartKey = out.LastEvaluatedKey;
    } while (ExclusiveStartKey && items.length < max && ++pages < maxPages);
    return items;
  }

  /** Every item of one partition whose sort key starts with `prefix` (or all of it), in sort-key order. */
  async partition<T>(pk: string, prefix?: string, { consistent = false, newestFirst = false, limit }: { consistent?: boolean; newestFirst?: boolean; limit?: number } = {}): Promise<T[]> {
    const items = await this.query(
      {
        KeyConditionExpression: prefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
        ExpressionAttributeValues: prefix ? { ':pk': pk, ':prefix': prefix } : { ':pk': pk },
        ConsistentRead: consistent,
        ScanIndexForward: !newestFirst,
        Limit: limit,
      },
      limit,
      limit === undefined ? Infinity : 1,
    );
    return items.map((item) => strip<T>(item));
  }

  /**
   * One page of a byCollection partition, in index order: at most `limit` members after `start`,
   * at most MAX_PAGE_REQUESTS requests. `next` is where the following page starts (null at the end);
   * with a filter a page may hold fewer than `limit` members and still have a `next`.
   */
  async collectionPage<T>(name: string, page: CollectionPage): Promise<{ items: T[]; next: Key & Item | null }> {
    const filter = page.filter;
    const found: Item[] = [];
    let start = page.start;
    for (let requests = 0; requests < MAX_PAGE_REQUESTS; requests++) {
      const out = await this.queryPage({
        IndexName: 'byCollection',
        KeyConditionExpression: 'gsi1pk = :pk',
        FilterExpression: filter?.expression,
        ExpressionAttributeNames: filter?.names,
        ExpressionAttributeValues: { ':pk': name, ...filter?.values },
        ScanIndexForward: !page.newestFirst,
        Limit: filter ? FILTERED_PAGE_ITEMS : page.limit + 1 - found.length,
        ExclusiveStartKey: start,
      });
      found.push(...out.items);
      if (found.length > page.limit) {
        const items = found.slice(0, page.limit);
        return { items: items.map((item) => strip<T>(item)), next: indexKeyOf(items.at(-1)!) };
      }
      if (!out.lastKey) return { items: found.map((item) => strip<T>(item)), next: null };
      start = out.lastKey;
    }
    return { items: found.map((item) => strip<T>(item)), next: start as Key & Item };
  }

  /** Members of a byCollection partition in index order. */
  async collection<T>(name: string): Promise<T[]> {
    const items = await this.query({
      IndexName: 'byCollection',
      KeyConditionExpression: 'gsi1pk = :pk',
      ExpressionAttributeValues: { ':pk': name },
    });
    return items.map((item) => strip<T>(item));
  }

  /** Unconditional put (last writer wins). */
  async put(item: Item): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.name, Item: item }));
  }

  /** Creates or replaces an item, keeping the creation time of the one it replaces; says whether it is new. */
  async replace<T>(key: Key, attributes: Item, build: (createdAt: string) => T, now: string): Promise<{ value: T; created: boolean }> {
    const existing = await this.get<{ createdAt?: string }>(key, true);
    const value = build(existing?.createdAt ?? now);
    await this.put({ ...key, ...attributes, ...value });
    return { value, created: !existing };
  }

  /** Deletes the item (absent is fine). */
  async delete(key: Key): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.name, Key: key }));
  }

  /** Put only if absent; false when an item with this key exists. */
  create(item: Item): Promise<boolean> {
    return this.putIf(item, 'attribute_not_exists(pk)');
  }

  /** Puts the whole item (attributes it no longer has are gone) if the condition holds; false when it fails. */
  async putIf(item: Item, condition: string, extra: { values?: Item; names?: Record<string, string> } = {}): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.name,
          Item: item,
          ConditionExpression: condition,
          ExpressionAttributeNames: extra.names,
          ExpressionAttributeValues: extra.values,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * SET the given attributes; by default only on an existing item (`condition: null` upserts).
   * `extra` values and names are what the condition refers to. False when the condition fails.
   */
  set(
    key: Key,
    values: Item,
    condition: string | null = 'attribute_exists(pk)',
    extra: { values?: Item; names?: Record<string, string> } = {},
  ): Promise<boolean> {
    const names: Record<string, string> = { ...extra.names };
    const vals: Item = { ...extra.values };
    return this.update(key, `SET ${assignments(values, names, vals, 'a')}`, names, vals, condition);
  }

  /** One conditional UpdateItem, every attribute name and value aliased; false when the condition fails. */
  async update(key: Key, expression: string, names: Record<string, string>, values: Item, condition: string | null): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.name,
          Key: key,
          UpdateExpression: expression,
          ConditionExpression: condition ?? undefined,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /** Atomically adds `by` to a number attribute (creating the item if needed) and returns the new value. */
  async increment(key: Key, attribute: string, set: Item = {}, by = 1): Promise<number> {
    const names: Record<string, string> = { '#n': attribute };
    const values: Item = { ':by': by };
    const sets = assignments(set, names, values, 's');
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.name,
        Key: key,
        UpdateExpression: `${sets ? `SET ${sets} ` : ''}ADD #n :by`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(out.Attributes?.[attribute]);
  }

  /** Many items by key, eventually consistent, in batches of 100, retrying what DynamoDB leaves unprocessed; absent ones are left out. */
  async getMany(keys: Key[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let requested: Record<string, unknown>[] = keys.slice(i, i + 100).map((key) => ({ pk: key.pk, sk: key.sk }));
      for (let attempt = 0; requested.length > 0; attempt++) {
        if (attempt > 8) throw new Error('DynamoDB left reads unprocessed');
        if (attempt > 0) await sleep(Math.min(1000, 50 * 2 ** attempt));
        const out = await this.doc.send(new BatchGetCommand({ RequestItems: { [this.name]: { Keys: requested } } }));
        found.push(...(out.Responses?.[this.name] ?? []));
        requested = (out.UnprocessedKeys?.[this.name]?.Keys ?? []) as Record<string, unknown>[];
      }
    }
    return found;
  }

  /** Many puts in batches of 25, retrying what DynamoDB leaves unprocessed. */
  async putMany(items: Item[]): Promise<void> {
    for (let i = 0; i < items.length; i += 25) {
      let requests = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 8) throw new Error('DynamoDB left writes unprocessed');
        if (attempt > 0) await sleep(Math.min(1000, 50 * 2 ** attempt));
        const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.name]: requests } }));
        requests = (out.UnprocessedItems?.[this.name] ?? []) as typeof requests;
      }
    }
  }
}
