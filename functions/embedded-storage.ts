// The in-process DynamoDB- and S3-compatible servers of the embedded default (dynalite, s3rver),
// on loopback, with the table and bucket created from the shared definitions. `npm start` keeps
// them under its data directory; tests run dynalite in memory and s3rver in a temp directory.
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import { createClients, type Endpoints } from './clients.ts';
import { ensureTable } from './storage/upgrade.ts';

export interface EmbeddedStorage {
  endpoints: Endpoints;
  stop(): Promise<void>;
}

/** s3rver's data under `dir/s3`; dynalite's under `dir/dynamodb` when `persist`, else in memory. */
export async function startEmbeddedStorage(dir: string, { persist }: { persist: boolean }): Promise<EmbeddedStorage> {
  await mkdir(join(dir, 's3'), { recursive: true });
  if (persist) await mkdir(join(dir, 'dynamodb'), { recursive: true });
  const dynamoServer: Server = dynalite({
    ...(persist ? { path: join(dir, 'dynamodb') } : {}),
    createTableMs: 0,
    updateTableMs: 0,
    deleteTableMs: 0,
  });
  await new Promise<void>((ready, reject) => {
    dynamoServer.once('error', reject);
    dynamoServer.listen(0, '127.0.0.1', () => ready());
  });
  const s3Server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(dir, 's3') });
  const { port: s3Port } = (await s3Server.run()) as AddressInfo;
  return {
    endpoints: {
      dynamoEndpoint: `http://127.0.0.1:${(dynamoServer.address() as AddressInfo).port}`,
      s3Endpoint: `http://127.0.0.1:${s3Port}`,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      // s3rver accepts only its own fixed key
      s3Credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    },
    async stop() {
      await new Promise<void>((done) => dynamoServer.close(() => done()));
      await s3Server.close();
    },
  };
}

/** Clients for the endpoints, with the table and bucket created if they are missing. */
export async function connectStorage(endpoints: Endpoints, table: string, bucket: string) {
  const clients = createClients(endpoints);
  await bootstrapStorage(clients, table, bucket);
  return clients;
}

async function bootstrapStorage(clients: { dynamo: DynamoDBClient; s3: S3Client }, table: string, bucket: string) {
  // Created when missing; a data directory from before an index (byDue, for notifications) is upgraded.
  await ensureTable(clients.dynamo, table);
  try {
    await clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}
