// The one definition of the table and bucket, used by infra/ (SST) and by the embedded bootstrap.
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Global secondary indexes, named after the access patterns they serve. */
  indexes: {
    /** Members of a collection in order: all apps, clusters, environments, tokens; an app's promotions and events. */
    byCollection: { partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    /** Events of one cluster in time order. */
    byCluster: { partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
    /** Notification work in time order: events not yet fanned out, deliveries due (sparse). */
    byDue: { partitionKey: 'gsi3pk', sortKey: 'gsi3sk' },
  },
  /** Epoch seconds; DynamoDB TTL removes expired items eventually, code checks expiry itself. */
  ttlAttribute: 'expiresAt',
} as const;

export const BUCKET = {
  /** Full agent reports (drift details), content-addressed by sha256. */
  reportsPrefix: 'reports/',
  /** The audit events of a stored report until they are in the table (the report's outbox). */
  pendingEventsPrefix: 'pending-events/',
} as const;

export function createTableInput(tableName: string): CreateTableCommandInput {
  const keyAttributes = [
    TABLE.partitionKey,
    TABLE.sortKey,
    ...Object.values(TABLE.indexes).flatMap((index) => [index.partitionKey, index.sortKey]),
  ];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: keyAttributes.map((name) => ({ AttributeName: name, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: Object.entries(TABLE.indexes).map(([name, index]) => ({
      IndexName: name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    })),
  };
}
