// The embedded default: the same app on Node, against in-process DynamoDB- and S3-compatible servers
// (dynalite, s3rver) persisted under a data directory. A newcomer needs nothing but Node.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { getRequestListener } from '@hono/node-server';
import dynalite from 'dynalite';
import S3rver from 's3rver';
import type { JWK } from 'jose';
import { createApp } from './app.ts';
import { generateSigningKey, type OidcIssuer } from './auth/tokens.ts';
import { createClients } from './clients.ts';
import type { Config, Services } from './context.ts';
import { buildServices } from './services.ts';
import { createTableInput } from './storage/schema.ts';

export const LOCAL_TABLE = 'flotilla';
export const LOCAL_BUCKET = 'flotilla';

export interface LocalOptions {
  dataDir?: string;
  port?: number;
  host?: string;
  config?: Partial<Config>;
  oidc?: OidcIssuer[];
  now?: () => Date;
}

export interface LocalControlPlane {
  url: string;
  adminToken: string;
  adminTokenPath: string;
  dataDir: string;
  services: Services;
  stop(): Promise<void>;
}

const listen = (server: Server, host: string, port = 0) =>
  new Promise<number>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolveListen((server.address() as AddressInfo).port));
  });

async function readOrCreate(path: string, create: () => Promise<string>): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    const value = await create();
    await writeFile(path, value, { mode: 0o600 });
    await chmod(path, 0o600);
    return value;
  }
}

/** Creates the table and bucket from the shared definitions if they are missing. */
export async function bootstrapStorage(services: Pick<Services, 'dynamo' | 's3'>, table: string, bucket: string) {
  try {
    await services.dynamo.send(new DescribeTableCommand({ TableName: table }));
  } catch (err) {
    if ((err as { name?: string }).name !== 'ResourceNotFoundException') throw err;
    await services.dynamo.send(new CreateTableCommand(createTableInput(table)));
  }
  try {
    await services.s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await services.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

export async function startLocalControlPlane(options: LocalOptions = {}): Promise<LocalControlPlane> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = resolve(options.dataDir ?? '.data');
  await mkdir(join(dataDir, 'dynamodb'), { recursive: true });
  await mkdir(join(dataDir, 's3'), { recursive: true });

  const dynamoServer: Server = dynalite({ path: join(dataDir, 'dynamodb'), createTableMs: 0, updateTableMs: 0, deleteTableMs: 0 });
  const dynamoPort = await listen(dynamoServer, '127.0.0.1');
  const s3Server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: join(dataDir, 's3') });
  const { port: s3Port } = (await s3Server.run()) as AddressInfo;

  const { dynamo, s3 } = createClients({
    dynamoEndpoint: `http://127.0.0.1:${dynamoPort}`,
    s3Endpoint: `http://127.0.0.1:${s3Port}`,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    s3Credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await bootstrapStorage({ dynamo, s3 }, LOCAL_TABLE, LOCAL_BUCKET);

  const signingKey = JSON.parse(
    await readOrCreate(join(dataDir, 'signing-key.json'), async () => JSON.stringify(await generateSigningKey())),
  ) as JWK;
  const services = await buildServices({
    dynamo,
    s3,
    tableName: LOCAL_TABLE,
    bucket: LOCAL_BUCKET,
    signingKeys: [signingKey],
    issuer: 'flotilla-local',
    audience: 'flotilla',
    oidc: options.oidc,
    config: options.config,
    now: options.now,
  });
  const adminTokenPath = join(dataDir, 'admin.token');
  const adminToken = (
    await readOrCreate(adminTokenPath, async () => {
      const minted = await services.tokens.mintUserToken({
        subject: 'admin',
        grants: [{ role: 'admin' }],
        ttlSeconds: 366 * 24 * 3600,
      });
      return minted.token + '\n';
    })
  ).trim();

  const server = createServer(getRequestListener(createApp(services).fetch));
  const url = `http://${host}:${await listen(server, host, options.port)}`;

  return {
    url,
    adminToken,
    adminTokenPath,
    dataDir,
    services,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      dynamo.destroy();
      s3.destroy();
      await new Promise<void>((done) => dynamoServer.close(() => done()));
      await s3Server.close();
    },
  };
}
