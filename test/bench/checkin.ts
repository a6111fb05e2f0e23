// `npm run bench:checkin`: what an agent check-in costs the control plane, against the embedded
// default over HTTP. Prints latency and throughput of unchanged check-ins (304), changed ones
// (200) and unchanged reports, each as a ratio to GET /healthz measured in the same run, and the
// DynamoDB requests each one makes. Not a test: it asserts nothing, it prints figures.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAgentKey, signAgentRequest, type AgentKeyPair } from '../../lib/agent-auth.ts';
import { startLocalControlPlane } from '../../functions/local-server.ts';
import { adminCaller } from './admin.ts';

const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 50);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-'));
const plane = await startLocalControlPlane({ dataDir: dir });
const dynamoCalls: string[] = [];
plane.clients.dynamo.middlewareStack.add(
  (next, context) => async (args) => {
    dynamoCalls.push(String(context.commandName));
    return next(args);
  },
  { step: 'initialize', name: 'benchCount' },
);

const admin = adminCaller(plane);

await admin('PUT', '/v1/environments/prod', {});
for (let i = 0; i < 20; i++) {
  const app = `app-${i}`;
  await admin('PUT', `/v1/apps/${app}`, { repository: `registry.example.com/team/${app}` });
  await admin('PUT', `/v1/apps/${app}/environments/prod`, { track: '^1.0.0' });
  await admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest: `sha256:${String(i).padStart(64, '0')}` });
}
const agents: { name: string; key: AgentKeyPair; etag?: string }[] = [];
for (let i = 0; i < CLUSTERS; i++) {
  const name = `prod-${i}`;
  await admin('PUT', `/v1/clusters/${name}`, { environment: 'prod', region: i % 2 ? 'us' : 'eu' });
  const { token } = await admin('POST', `/v1/clusters/${name}/registration-tokens`);
  const key = await generateAgentKey();
  const res = await fetch(`${plane.url}/v1/agent/register`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ publicKey: key.publicJwk }),
  });
  if (!res.ok) throw new Error(`register: ${res.status}`);
  agents.push({ name, key });
}

const report = () =>
  JSON.stringify({
    apps: Array.from({ length: 20 }, (_, a) => ({
      name: `app-${a}`,
      version: '1.0.0',
      digest: `sha256:${String(a).padStart(64, '0')}`,
      phase: 'Ready',
      counts: { unchanged: 3 },
    })),
    agentVersion: 'bench',
  });

type Kind = 'healthz' | 'check-in 304' | 'check-in 200' | 'report unchanged';

/**
 * Agent tokens for a phase, signed before it is timed: signing is the agent's work, and with client
 * and server in one process it would be counted against the control plane.
 */
let presigned: string[] = [];
async function presign(kind: Kind, count: number) {
  presigned = [];
  for (let i = 0; i < count; i++) {
    const agent = agents[i % agents.length]!;
    if (kind === 'healthz') presigned.push('');
    else if (kind === 'report unchanged') presigned.push(await signAgentRequest(agent.key, agent.name, 'flotilla', { method: 'POST', path: '/v1/agent/reports', body: report() }));
    else presigned.push(await signAgentRequest(agent.key, agent.name, 'flotilla', { method: 'GET', path: '/v1/agent/desired-state' }));
  }
}

async function once(kind: Kind, i: number, warmUp = false): Promise<number> {
  const agent = agents[i % agents.length]!;
  const token = presigned[i];
  const started = performance.now();
  if (kind === 'healthz') {
    await (await fetch(`${plane.url}/healthz`)).arrayBuffer();
  } else if (kind === 'report unchanged') {
    const body = report();
    const jwt = token ?? (await signAgentRequest(agent.key, agent.name, 'flotilla', { method: 'POST', path: '/v1/agent/reports', body }));
    const res = await fetch(`${plane.url}/v1/agent/reports`, {
      method: 'POST',
      headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
      body,
    });
    await res.arrayBuffer();
    if (res.status !== 202) throw new Error(`report: ${res.status}`);
  } else {
    const jwt = token ?? (await signAgentRequest(agent.key, agent.name, 'flotilla', { method: 'GET', path: '/v1/agent/desired-state' }));
    const headers: Record<string, string> = { authorization: `Bearer ${jwt}` };
    if (kind === 'check-in 304' && agent.etag) headers['if-none-match'] = agent.etag;
    const res = await fetch(`${plane.url}/v1/agent/desired-state`, { headers });
    await res.arrayBuffer();
    const expected = kind === 'check-in 304' ? 304 : 200;
    if (!warmUp && res.status !== expected) throw new Error(`${kind}: got ${res.status}`);
    agent.etag = res.headers.get('etag') ?? agent.etag;
  }
  return performance.now() - started;
}

async function measure(kind: Kind) {
  // warm-up: fills ETags, sends each cluster's first (stored) report
  presigned = [];
  for (let i = 0; i < agents.length; i++) await once(kind, i, true);
  await presign(kind, REQUESTS);
  dynamoCalls.length = 0;
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) latencies.push(await once(kind, next++));
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const reads = dynamoCalls.filter((c) => /Get|Query|Scan/.test(c)).length;
  const writes = dynamoCalls.length - reads;
  return {
    kind,
    perSecond: REQUESTS / seconds,
    p50: latencies[Math.floor(latencies.length * 0.5)]!,
    p99: latencies[Math.floor(latencies.length * 0.99)]!,
    readsPer: reads / REQUESTS,
    writesPer: writes / REQUESTS,
  };
}

try {
  const kinds: Kind[] = ['healthz', 'check-in 304', 'check-in 200', 'report unchanged'];
  // The first round warms the JIT and the storage; the second is the one reported.
  for (const kind of kinds) await measure(kind);
  const rows = [];
  for (const kind of kinds) rows.push(await measure(kind));
  const baseline = rows[0]!;
  console.log(
    `${CLUSTERS} clusters, 20 apps, ${REQUESTS} requests per kind, concurrency ${CONCURRENCY}, Node ${process.version}, ` +
      'embedded storage; client, server and storage share one process (agent tokens are signed before each timed phase)',
  );
  console.log('kind               req/s   p50 ms  p99 ms  p50 vs healthz  DynamoDB reads/req  writes/req');
  for (const r of rows) {
    console.log(
      `${r.kind.padEnd(17)} ${r.perSecond.toFixed(0).padStart(6)}  ${r.p50.toFixed(2).padStart(6)}  ${r.p99.toFixed(2).padStart(6)}  ${(r.p50 / baseline.p50).toFixed(2).padStart(13)}×  ${r.readsPer.toFixed(2).padStart(18)}  ${r.writesPer.toFixed(2).padStart(10)}`,
    );
  }
} finally {
  await plane.stop();
  await rm(dir, { recursive: true, force: true });
}
