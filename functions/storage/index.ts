// The storage layer: one module per entity over one table, plus the report bucket. Built once per
// process; the domain reaches it as `services.storage`.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { AppStorage } from './apps.ts';
import { ApprovalStorage } from './approvals.ts';
import { FreezeStorage } from './freeze.ts';
import { RolloutStorage } from './rollouts.ts';
import { ReportStorage } from './reports.ts';
import { ClusterStorage } from './clusters.ts';
import { DesiredStorage } from './desired.ts';
import { EnvironmentStorage } from './environments.ts';
import { EventStorage } from './events.ts';
import { FleetStorage } from './fleet.ts';
import { NotificationStorage } from './notifications.ts';
import { PromotionStorage } from './promotions.ts';
import { Table } from './table.ts';
import { TokenStorage } from './tokens.ts';
import { ValuesStorage } from './values.ts';

export { ConflictError } from './table.ts';
export type { EventQuery } from './events.ts';
export type { RolloutRecord } from './rollouts.ts';
export type { ApprovalRecord } from './approvals.ts';
export type { FreezeRecord } from './freeze.ts';
export type { DeliveryRecord, SubscriptionRecord } from './notifications.ts';

export function createStorage(clients: { dynamo: DynamoDBClient; s3: S3Client }, names: { table: string; bucket: string }) {
  const table = new Table(clients.dynamo, names.table);
  return {
    apps: new AppStorage(table),
    environments: new EnvironmentStorage(table),
    desired: new DesiredStorage(table),
    promotions: new PromotionStorage(table),
    clusters: new ClusterStorage(table),
    fleet: new FleetStorage(table),
    tokens: new TokenStorage(table),
    events: new EventStorage(table),
    rollouts: new RolloutStorage(table),
    approvals: new ApprovalStorage(table),
    freeze: new FreezeStorage(table),
    values: new ValuesStorage(table),
    notifications: new NotificationStorage(table),
    reports: new ReportStorage(clients.s3, names.bucket),
  };
}

export type Storage = ReturnType<typeof createStorage>;
