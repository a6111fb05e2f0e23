// The embedded default: the same app on Node, against in-process DynamoDB- and S3-compatible servers
// (dynalite, s3rver) persisted under a data directory. A newcomer needs nothing but Node.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { JWK } from 'jose';
import { createApp } from './app.ts';
import { generateSigningKey, type OidcIssuer } from './auth/tokens.ts';
import type { Config, Services } from './context.ts';
import { connectStorage, startEmbeddedStorage } from './embedded-storage.ts';
import { runClock } from './clock.ts';
import { startLocalDispatcher, type LocalDispatcher } from './notify/dispatcher.ts';
import { buildServices, type ConfigOverrides } from './services.ts';
import type { OidcSignInConfig } from './auth/oidc-client.ts';
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from './settings.ts';

export const LOCAL_TABLE = 'flotilla';
export const LOCAL_BUCKET = 'flotilla';

export interface LocalOptions {
  dataDir?: string;
  port?: number;
  host?: string;
  config?: ConfigOverrides;
  oidc?: OidcIssuer[];
  signIn?: OidcSignInConfig;
  now?: () => Date;
  /** Seconds between runs of the clock (rollout deadlines and soaks); 0 turns it off. Default 15. */
  clockSeconds?: number;
  /** Milliseconds between runs of the notification dispatcher, which also runs when an event is written; 0 turns it off. Default 1000. */
  notifyIntervalMs?: number;
}

export interface LocalControlPlane {
  url: string;
  adminToken: string;
  adminTokenPath: string;
  dataDir: string;
  services: Services;
  /** The in-process notification dispatcher (null when turned off). */
  dispatcher: LocalDispatcher | null;
  /** The storage clients the services use (owned by this handle; closed by stop). */
  clients: { dynamo: DynamoDBClient; s3: S3Client };
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

export async function startLocalControlPlane(options: LocalOptions = {}): Promise<LocalControlPlane> {
  const host = options.host ?? '127.0.0.1';
  const dataDir = resolve(options.dataDir ?? '.data');
  await mkdir(dataDir, { recursive: true });
  const storage = await startEmbeddedStorage(dataDir, { persist: true });
  const { dynamo, s3 } = await connectStorage(storage.endpoints, LOCAL_TABLE, LOCAL_BUCKET);

  const signingKey = JSON.parse(
    await readOrCreate(join(dataDir, 'signing-key.json'), async () => JSON.stringify(await generateSigningKey())),
  ) as JWK;
  const services = await buildServices({
    dynamo,
    s3,
    tableName: LOCAL_TABLE,
    bucket: LOCAL_BUCKET,
    signingKeys: [signingKey],
    issuer: DEFAULT_ISSUER,
    audience: DEFAULT_AUDIENCE,
    oidc: options.oidc,
    signIn: options.signIn,
    config: options.config,
    now: options.now,
  });
  const adminTokenPath = join(dataDir, 'admin.token');
  const adminToken = await localAdminToken(services, adminTokenPath);

  // The in-process clock: the same code the EventBridge schedule runs on AWS.
  const clockSeconds = options.clockSeconds ?? 15;
  // One run at a time; stop() waits for the one in progress before it closes the storage.
  let clockRun: Promise<void> | null = null;
  const tick = () => {
    clockRun ??= runClock(services)
      .then(() => undefined)
      .catch((err: unknown) => console.error(JSON.stringify({ level: 'error', msg: 'clock run failed', error: String(err) })))
      .finally(() => (clockRun = null));
  };
  const clock = clockSeconds > 0 ? setInterval(tick, clockSeconds * 1000) : undefined;
  clock?.unref();
  // The in-process notification dispatcher: the same code the scheduled Lambda runs, woken by every event written.
  const notifyIntervalMs = options.notifyIntervalMs ?? 1000;
  const dispatcher = notifyIntervalMs > 0 ? startLocalDispatcher(services, notifyIntervalMs) : null;
  if (dispatcher) services.storage.events.onWrite = dispatcher.kick;
  const server = createServer(getRequestListener(createApp(services).fetch));
  server.on('clientError', refuseMalformedRequest);
  let url: string;
  try {
    url = `http://${host}:${await listen(server, host, options.port)}`;
    // Links in notifications open this server's dashboard unless another public URL is set.
    services.config.notify.publicUrl ??= url;
  } catch (err) {
    clearInterval(clock);
    await dispatcher?.stop();
    dynamo.destroy();
    s3.destroy();
    await storage.stop();
    throw err;
  }

  return {
    url,
    adminToken,
    adminTokenPath,
    dataDir,
    services,
    dispatcher,
    clients: { dynamo, s3 },
    async stop() {
      clearInterval(clock);
      await clockRun;
      await dispatcher?.stop();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      dynamo.destroy();
      s3.destroy();
      await storage.stop();
    },
  };
}

/**
 * The admin token kept in the data directory, minted on the first start. One that no longer
 * verifies (a data directory from a release with another issuer) is replaced.
 */
async function localAdminToken(services: Services, path: string): Promise<string> {
  const mint = async () =>
    (await services.tokens.mintUserToken({ subject: 'admin', grants: [{ role: 'admin' }], ttlSeconds: 366 * 24 * 3600 })).token + '\n';
  const stored = (await readOrCreate(path, mint)).trim();
  const valid = await services.tokens.verifyUserToken(stored).then(
    () => true,
    () => false,
  );
  if (valid) return stored;
  const fresh = await mint();
  await writeFile(path, fresh, { mode: 0o600 });
  return fresh.trim();
}

/**
 * Node's HTTP parser refuses some requests before the app sees them (a request line or headers
 * over 16 KiB, bytes that are not HTTP); they still get the API's error envelope.
 */
function refuseMalformedRequest(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ([431, 'bad_request', 'the request line or headers are too large'] as const)
      : ([400, 'bad_request', 'malformed HTTP request'] as const);
  const body = JSON.stringify({ error: { code, message, requestId: randomUUID() } });
  socket.end(
    `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
