// The control plane of `npm run bench:fleet`, in a process of its own so that its CPU is its own.
// It builds the app from the same pieces `npm start` uses (functions/local-server.ts): storage
// clients from connectStorage (the table and bucket bootstrapped from the shared schema),
// buildServices, createApp, the in-process clock every 15 s, a Node HTTP server. Storage is the
// embedded default (dynalite + s3rver, in this process, as `npm start` runs them) or moto's server
// (BENCH_MOTO_ENDPOINT, a process the parent started).
//
// It listens to functions/usage.ts (onRequestUsage) and streams every request's record to the
// parent over IPC in batches, tagged with the benchmark's own X-Bench-Kind and X-Request-Id
// headers (read in an AsyncLocalStorage scope around app.fetch, since the usage record does not
// carry them). It answers CPU queries (process.cpuUsage), lets the parent change the heartbeat
// period for isolated measurement windows, and measures each clock run with measureUsage.
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { createApp } from '../../functions/app.ts';
import { generateSigningKey } from '../../functions/auth/tokens.ts';
import { runClock } from '../../functions/clock.ts';
import { connectStorage, startEmbeddedStorage, type EmbeddedStorage } from '../../functions/embedded-storage.ts';
import type { Endpoints } from '../../functions/clients.ts';
import { LOCAL_BUCKET, LOCAL_TABLE } from '../../functions/local-server.ts';
import { buildServices } from '../../functions/services.ts';
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from '../../functions/settings.ts';
import { measureUsage, onRequestUsage, type Usage } from '../../functions/usage.ts';
import type { ChildMessage, ParentMessage, ServerRecord } from './fleet/protocol.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const send = (message: ChildMessage) => process.send?.(message);
const storageKind = process.env.BENCH_STORAGE === 'moto' ? 'moto' : 'embedded';
const clockSeconds = Number(process.env.BENCH_CLOCK_SECONDS ?? 15);
const heartbeatSeconds = Number(process.env.BENCH_HEARTBEAT ?? 300);

const dir = await mkdtemp(join(tmpdir(), 'flotilla-fleet-'));
let embedded: EmbeddedStorage | undefined;
let endpoints: Endpoints;
if (storageKind === 'moto') {
  const endpoint = process.env.BENCH_MOTO_ENDPOINT!;
  endpoints = { region: 'us-east-1', dynamoEndpoint: endpoint, s3Endpoint: endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
} else if (process.env.BENCH_ENDPOINTS) {
  // The embedded default's storage in a process of its own (fleet/storage-child.ts): this process's CPU is the control plane's.
  endpoints = JSON.parse(process.env.BENCH_ENDPOINTS) as Endpoints;
} else {
  // As `npm start`: dynalite persisted under the data directory, s3rver beside it.
  embedded = await startEmbeddedStorage(dir, { persist: true });
  endpoints = embedded.endpoints;
}
const { dynamo, s3 } = await connectStorage(endpoints, LOCAL_TABLE, LOCAL_BUCKET);
const services = await buildServices({
  dynamo,
  s3,
  tableName: LOCAL_TABLE,
  bucket: LOCAL_BUCKET,
  signingKeys: [await generateSigningKey()],
  issuer: DEFAULT_ISSUER,
  audience: DEFAULT_AUDIENCE,
  config: { heartbeatSeconds },
});
const adminToken = (await services.tokens.mintUserToken({ subject: 'bench-admin', grants: [{ role: 'admin' }], ttlSeconds: 24 * 3600 })).token;

// ---- Request records ----------------------------------------------------------------------------
const tags = new AsyncLocalStorage<{ kind: string; id: string }>();
let batch: ServerRecord[] = [];
const flush = () => {
  if (batch.length === 0) return;
  send({ type: 'records', records: batch });
  batch = [];
};
const compact = (usage: Usage): ServerRecord['usage'] => usage;
onRequestUsage((request) => {
  const tag = tags.getStore();
  batch.push({ id: tag?.id ?? '', tag: tag?.kind ?? '', method: request.method, route: request.route, status: request.status, usage: compact(request.usage) });
  if (batch.length >= 500) flush();
});
setInterval(flush, 250).unref();

// ---- The clock, as npm start runs it, each run measured -----------------------------------------
const clock = { runs: 0, failures: 0, ms: 0, dynamoCalls: {} as Record<string, number>, readUnits: 0, writeUnits: 0, s3Calls: 0 };
if (clockSeconds > 0) {
  setInterval(() => {
    const started = performance.now();
    measureUsage(() => runClock(services))
      .then(({ usage }) => {
        clock.runs += 1;
        clock.ms += performance.now() - started;
        for (const [op, n] of Object.entries(usage.dynamo.calls)) clock.dynamoCalls[op] = (clock.dynamoCalls[op] ?? 0) + n;
        clock.readUnits += usage.dynamo.readUnits;
        clock.writeUnits += usage.dynamo.writeUnits;
        clock.s3Calls += Object.values(usage.s3.calls).reduce((a, b) => a + b, 0);
      })
      .catch((err: unknown) => {
        clock.failures += 1;
        console.error(JSON.stringify({ level: 'error', msg: 'clock run failed', error: String(err) }));
      });
  }, clockSeconds * 1000).unref();
}

// ---- HTTP ---------------------------------------------------------------------------------------
const app = createApp(services);
const server = createServer(
  getRequestListener((request, env) =>
    tags.run({ kind: request.headers.get('x-bench-kind') ?? '', id: request.headers.get('x-request-id') ?? '' }, () => app.fetch(request, env)),
  ),
);
server.keepAliveTimeout = 60_000;
await new Promise<void>((ready, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => ready());
});

async function stop() {
  flush();
  server.closeAllConnections();
  await new Promise<void>((done) => server.close(() => done()));
  dynamo.destroy();
  s3.destroy();
  await embedded?.stop();
  await rm(dir, { recursive: true, force: true });
}

process.on('message', (message: ParentMessage) => {
  switch (message.type) {
    case 'cpu': {
      flush();
      const cpu = process.cpuUsage();
      send({ type: 'cpu', id: message.id, userMicros: cpu.user, systemMicros: cpu.system, rss: process.memoryUsage().rss });
      break;
    }
    case 'heartbeat':
      services.config.heartbeatSeconds = message.seconds;
      send({ type: 'ack', id: message.id });
      break;
    case 'flush':
      flush();
      send({ type: 'ack', id: message.id });
      break;
    case 'clock':
      send({ type: 'clock', id: message.id, clock: { ...clock, seconds: clockSeconds } });
      break;
    case 'stop':
      stop().then(
        () => {
          send({ type: 'ack', id: message.id });
          process.exit(0);
        },
        () => process.exit(1),
      );
      break;
  }
});
process.once('SIGTERM', () => process.exit(0));
process.on('disconnect', () => {
  stop().finally(() => process.exit(0));
});

send({ type: 'ready', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, adminToken, storage: storageKind });
