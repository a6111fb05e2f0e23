// `npm run bench:ui`: the dashboard at fleet size. Seeds the embedded default (dynalite + s3rver,
// as `npm start` runs them) with BENCH_CLUSTERS clusters (10,000) in 3 environments × 5 regions and
// BENCH_APPS apps (20), a few releases and promotions each, a rollout with waves in prod, and
// BENCH_REPORTERS registered clusters (500) reporting (one with drift); the clock then counts every
// cell. Prints, per page, the server's render time (in-process app.request, median and p95 of
// BENCH_RUNS runs after a warm-up) and the bytes transferred (raw and gzip), against the targets
// ≤ 200 ms and ≤ 100 KB. Not a test: it asserts nothing, it prints figures.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { generateAgentKey, signAgentRequest } from '../../lib/agent-auth.ts';
import { createApp } from '../../functions/app.ts';
import { generateSigningKey } from '../../functions/auth/tokens.ts';
import { runClock } from '../../functions/clock.ts';
import { mapLimit } from '../../functions/domain/clusters.ts';
import { connectStorage, startEmbeddedStorage } from '../../functions/embedded-storage.ts';
import { LOCAL_BUCKET, LOCAL_TABLE } from '../../functions/local-server.ts';
import { buildServices } from '../../functions/services.ts';
import { DEFAULT_AUDIENCE, DEFAULT_ISSUER } from '../../functions/settings.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 10_000);
const APPS = Number(process.env.BENCH_APPS ?? 20);
const REPORTERS = Number(process.env.BENCH_REPORTERS ?? 500);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const TARGET_MS = 200;
const TARGET_BYTES = 100 * 1024;
const ENVIRONMENTS = ['dev', 'staging', 'prod'];
const REGIONS = ['eu-west', 'eu-north', 'us-east', 'us-west', 'ap-south'];

const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-ui-'));
const embedded = await startEmbeddedStorage(dir, { persist: true });
const { dynamo, s3 } = await connectStorage(embedded.endpoints, LOCAL_TABLE, LOCAL_BUCKET);
const services = await buildServices({ dynamo, s3, tableName: LOCAL_TABLE, bucket: LOCAL_BUCKET, signingKeys: [await generateSigningKey()], issuer: DEFAULT_ISSUER, audience: DEFAULT_AUDIENCE });
const app = createApp(services);
const admin = (await services.tokens.mintUserToken({ subject: 'bench-admin', grants: [{ role: 'admin' }], ttlSeconds: 3600 })).token;

async function api(method: string, path: string, body?: unknown, token = admin) {
  const response = await app.request(path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json() as Promise<any>;
}
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const appName = (i: number) => `app-${String(i).padStart(2, '0')}`;
const clusterName = (i: number) => `c-${String(i).padStart(5, '0')}`;

let started = performance.now();
const step = (what: string) => {
  console.log(`  ${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  started = performance.now();
};
console.log(`seeding ${CLUSTERS} clusters, ${APPS} apps, ${REPORTERS} reporting, on the embedded default`);
await api('PUT', '/v1/environments/dev', {});
await api('PUT', '/v1/environments/staging', { upstream: 'dev' });
await api('PUT', '/v1/environments/prod', { upstream: 'staging', waves: [{ name: 'canary', regions: ['eu-west'] }, { name: 'rest', regions: REGIONS.slice(1) }] });
// Clusters before apps: a cluster created into an environment with apps moves each app's fleet
// cell at once, and 10,000 of them on 15 cells would mostly measure that; the clock counts them.
await mapLimit([...Array(CLUSTERS).keys()], 32, (i) =>
  api('PUT', `/v1/clusters/${clusterName(i)}`, { environment: ENVIRONMENTS[i % 3], region: REGIONS[Math.floor(i / 3) % REGIONS.length], labels: { tier: i % 2 ? 'web' : 'batch' } }),
);
step('clusters');
await mapLimit([...Array(APPS).keys()], 8, async (i) => {
  const name = appName(i);
  await api('PUT', `/v1/apps/${name}`, { repository: `registry.example/team/${name}`, namespace: name });
  for (const [n, version] of ['1.0.0', '1.1.0', '1.2.0'].entries()) await api('POST', `/v1/apps/${name}/releases`, { version, digest: digest(i * 10 + n + 1) });
  await api('PUT', `/v1/apps/${name}/environments/dev`, { track: '^1.0.0' });
  for (const environment of ['staging', 'prod']) await api('PUT', `/v1/apps/${name}/environments/${environment}`, { track: null });
  await api('POST', `/v1/apps/${name}/promotions`, { environment: 'staging', version: '1.1.0', reason: 'bench: staging' });
});
step('apps, releases, policies');
await mapLimit([...Array(REPORTERS).keys()], 16, async (i) => {
  const name = clusterName(i);
  const { token } = await api('POST', `/v1/clusters/${name}/registration-tokens`);
  const key = await generateAgentKey();
  const registered = await app.request('/v1/agent/register', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ publicKey: key.publicJwk }) });
  if (registered.status !== 200) throw new Error(`register ${name}: ${registered.status}`);
  const now = Date.now();
  const get = await signAgentRequest(key, name, DEFAULT_AUDIENCE, { method: 'GET', path: '/v1/agent/desired-state' }, now);
  const state = (await (await app.request('/v1/agent/desired-state', { headers: { authorization: `Bearer ${get}` } })).json()) as { apps: { name: string; version: string; digest: string }[] };
  const drift = i === 0 ? [{ object: 'Deployment/app-00/app-00', fields: [{ path: '/spec/replicas', before: 5, after: 3 }], corrected: false }] : [];
  const body = JSON.stringify({ apps: state.apps.map((desired, n) => ({ name: desired.name, version: desired.version, digest: desired.digest, phase: n === 0 && i % 50 === 7 ? 'Failed' : 'Ready', drift: n === 0 ? drift : [], conditions: [], counts: {} })) });
  const jwt = await signAgentRequest(key, name, DEFAULT_AUDIENCE, { method: 'POST', path: '/v1/agent/reports', body, seq: 1 }, now);
  const report = await app.request('/v1/agent/reports', { method: 'POST', headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' }, body });
  if (report.status >= 300) throw new Error(`report ${name}: ${report.status} ${await report.text()}`);
});
step('registrations and reports');
await api('POST', `/v1/apps/${appName(0)}/promotions`, { environment: 'prod', version: '1.1.0', reason: 'bench: prod rollout' });
services.config.fleetScanSeconds = 0;
await runClock(services);
step('a prod rollout and the clock (cells counted)');

const cookie = `flotilla-session=${admin}`;
const pages: [string, string][] = [
  ['fleet', '/ui'],
  ['app (rollout in prod)', `/ui/apps/${appName(0)}`],
  ['app', `/ui/apps/${appName(5)}`],
  ['rollout progress (prod)', `/ui/apps/${appName(0)}/rollouts/prod-1`],
  ['clusters (a page)', '/ui/clusters?environment=prod&region=us-east'],
  ['cluster (drifted)', `/ui/clusters/${clusterName(0)}`],
  ['events', '/ui/events'],
  ['events (filtered)', `/ui/events?app=${appName(0)}&environment=prod`],
  ['sign-in', '/ui/signin'],
  ['docs', '/docs'],
];
const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!;
const rows: string[][] = [];
for (const [name, path] of pages) {
  const times: number[] = [];
  let bytes = 0;
  let gzip = 0;
  let status = 0;
  for (let run = -2; run < RUNS; run++) {
    const t0 = performance.now();
    const response = await app.request(`http://localhost${path}`, { headers: { cookie } });
    const body = Buffer.from(await response.arrayBuffer());
    if (run >= 0) times.push(performance.now() - t0);
    status = response.status;
    bytes = body.length;
    gzip = gzipSync(body).length;
  }
  const p50 = quantile(times, 0.5);
  const ok = p50 <= TARGET_MS && bytes <= TARGET_BYTES ? 'yes' : 'NO';
  rows.push([name, path, String(status), p50.toFixed(1), quantile(times, 0.95).toFixed(1), (bytes / 1024).toFixed(1), (gzip / 1024).toFixed(1), ok]);
}
const header = ['page', 'path', 'status', 'p50 ms', 'p95 ms', 'KiB', 'KiB gzip', `≤ ${TARGET_MS} ms & ≤ 100 KB`];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
console.log(`\nserver render time over ${RUNS} runs (in-process, after 2 warm-up runs) and bytes per page:`);
for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));

dynamo.destroy();
s3.destroy();
await embedded.stop();
await rm(dir, { recursive: true, force: true });
