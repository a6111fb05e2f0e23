// One run of the fleet simulator against one storage backend: setup through the real API, a
// steady phase of agents checking in while CI publishes and SREs promote and read, then isolated
// per-kind windows for CPU. Returns the figures; fleet.ts prints them.
import { randomUUID } from 'node:crypto';
import { sleep } from '../../../lib/sleep.ts';
import { buildReport, checkIn, cycle, newAgent, sendReport, type SimAgent } from './agents.ts';
import { Client, bounded } from './client.ts';
import { startServerChild, type ServerChild } from './processes.ts';
import type { ClockFigures } from './protocol.ts';
import { Aggregator, figuresOf, type KindFigures, type KindSum } from './stats.ts';

export interface RunOptions {
  storage: 'embedded' | 'moto';
  motoEndpoint?: string;
  /** External storage endpoints for the embedded run (dynalite and s3rver in a process of their own). */
  endpoints?: import('../../../functions/clients.ts').Endpoints;
  clusters: number;
  apps: number;
  seconds: number;
  /** Agent cycles started per second in the steady phase (each a check-in, sometimes a report). */
  rate: number;
  concurrency: number;
  /** Heartbeat period (s), scaled down: the server's heartbeatSeconds and the agents' report heartbeat. */
  heartbeatSeconds: number;
  driftChance: number;
  /** Longest an isolated CPU window keeps starting requests. */
  windowSeconds: number;
  verbose: boolean;
  log: (line: string) => void;
}

export interface Totals {
  requests: number;
  seconds: number;
  dynamoCalls: number;
  readUnits: number;
  writeUnits: number;
  s3Calls: number;
  serverCpuMs: number;
  logBytes: number;
  byKind: Record<string, number>;
}

export interface RunFigures {
  storage: string;
  clusters: number;
  apps: number;
  seconds: number;
  rate: number;
  heartbeatSeconds: number;
  node: string;
  setupSeconds: number;
  idleCpuMsPerSecond: number;
  kinds: KindFigures[];
  steady: Totals;
  clock: ClockFigures;
  /** Average body of a changed report (bytes): what one S3 report object holds. */
  reportBytes: number;
  serverRssBytes: number;
  transportErrors: number;
}

const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;
const REGIONS = ['eu', 'us', 'ap'] as const;
const digestOf = (app: string, version: string) => `sha256:${Buffer.from(`${app}@${version}`).toString('hex').padEnd(64, '0').slice(0, 64)}`;

/** A small deterministic PRNG, so two runs simulate the same fleet. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export async function runFleet(options: RunOptions): Promise<RunFigures> {
  const { log } = options;
  let aggregator!: Aggregator;
  const child = await startServerChild({
    storage: options.storage,
    motoEndpoint: options.motoEndpoint,
    endpoints: options.endpoints,
    heartbeatSeconds: options.heartbeatSeconds,
    onRecords: (records) => aggregator.add(records),
  });
  const client = new Client(child.url, child.adminToken);
  aggregator = new Aggregator(client.sent);
  try {
    return await simulate(options, child, client, aggregator);
  } finally {
    await child.stop();
  }
}

async function simulate(options: RunOptions, child: ServerChild, client: Client, aggregator: Aggregator): Promise<RunFigures> {
  const { log } = options;
  const rand = random(42);
  const apps = Array.from({ length: options.apps }, (_, i) => `app-${String(i).padStart(2, '0')}`);
  const releases = new Map(apps.map((app) => [app, ['1.0.0']]));
  /** The version each (app, environment, region) pin holds, to promote something else. */
  const pins = new Map<string, string>();
  const setupStarted = performance.now();
  const cpu = new Map<string, { cpuMs: number; logBytes: number; samples: number }>();

  // Isolated window: only `work` in flight; the server's CPU and log bytes over it, per request,
  // less the idle rate measured before the steady phase (the clock, timers, GC of an idle process).
  let idleRate = 0;
  // A window sends at most `count` requests and starts none after `options.windowSeconds`.
  async function window(kind: string, count: number, concurrency: number, work: (i: number) => Promise<void>, bounded_ = true) {
    await child.flush();
    const before = await child.cpuMs();
    const logBefore = child.logBytes();
    const started = performance.now();
    const budget = bounded_ ? started + options.windowSeconds * 1000 : Infinity;
    let sent = 0;
    await bounded(count, concurrency, async (i) => {
      if (performance.now() > budget) return;
      sent += 1;
      await work(i);
    });
    const wall = (performance.now() - started) / 1000;
    const after = await child.cpuMs();
    const ms = Math.max(0, after.ms - before.ms - idleRate * wall);
    if (sent > 0) cpu.set(kind, { cpuMs: ms / sent, logBytes: (child.logBytes() - logBefore) / sent, samples: sent });
    if (options.verbose) log(`    window ${kind}: ${sent} requests in ${wall.toFixed(1)} s`);
  }

  // ---- Setup through the API ------------------------------------------------------------------
  client.phase = 'setup';
  for (const env of ENVIRONMENTS) {
    await client.admin('environment put', 'PUT', `/v1/environments/${env}`, { upstream: env === 'dev' ? null : env === 'staging' ? 'dev' : 'staging', description: `${env} clusters` });
  }
  await bounded(apps.length, 4, async (i) => {
    const app = apps[i]!;
    await client.admin('app put', 'PUT', `/v1/apps/${app}`, { repository: `registry.example.com/team/${app}`, namespace: app, timeoutSeconds: 300 });
    await client.admin('policy put', 'PUT', `/v1/apps/${app}/environments/dev`, { track: i % 2 ? '^1.0.0' : '~1.0.0' });
    await client.admin('policy put', 'PUT', `/v1/apps/${app}/environments/staging`, { track: null });
    await client.admin('policy put', 'PUT', `/v1/apps/${app}/environments/prod`, { track: null });
    await publish(app, '1.0.0');
    await promote(app, 'staging', undefined, '1.0.0');
    await promote(app, 'prod', undefined, '1.0.0');
  });

  async function publish(app: string, version: string) {
    await client.admin('publish', 'POST', `/v1/apps/${app}/releases`, {
      version,
      digest: digestOf(app, version),
      tag: `v${version}`,
      source: `https://github.com/example/${app}`,
      revision: randomUUID().replace(/-/g, ''),
    });
    if (!releases.get(app)!.includes(version)) releases.get(app)!.push(version);
  }
  async function promote(app: string, environment: string, region: string | undefined, version: string) {
    const res = await client.request(
      'promote',
      'POST',
      `/v1/apps/${app}/promotions`,
      JSON.stringify({ environment, version, ...(region ? { region } : {}), reason: `bench: ${version} soaked upstream` }),
      { authorization: `Bearer ${client.adminToken}`, 'idempotency-key': `bench-${randomUUID()}` },
    );
    if (res.status === 201 || res.status === 202) {
      if (region) pins.set(`${app}/${environment}/${region}`, version);
      else for (const r of REGIONS) if (!pins.has(`${app}/${environment}/${r}`) || !region) pins.set(`${app}/${environment}/${r}`, version);
    }
    return res.status;
  }

  log(`  generating ${options.clusters} agent keys`);
  const agents: SimAgent[] = [];
  for (let i = 0; i < options.clusters; i++) {
    // 20 % dev, 20 % staging, 60 % prod; regions round robin.
    const slot = i % 10;
    const environment = slot < 2 ? 'dev' : slot < 4 ? 'staging' : 'prod';
    const region = REGIONS[Math.floor(i / 10) % REGIONS.length]!;
    agents.push(await newAgent(`${environment}-${region}-${String(i).padStart(5, '0')}`, environment, region));
  }
  const tokens = new Map<string, string>();
  const putCluster = async (agent: SimAgent) => {
    await client.admin('cluster put', 'PUT', `/v1/clusters/${agent.name}`, { environment: agent.environment, region: agent.region, labels: { tier: agent.name.length % 2 ? 'web' : 'batch' } });
  };
  const issueToken = async (agent: SimAgent) => {
    tokens.set(agent.name, (await client.admin('registration token', 'POST', `/v1/clusters/${agent.name}/registration-tokens`)).token);
  };
  const register = async (agent: SimAgent) => {
    const res = await client.request('register', 'POST', '/v1/agent/register', JSON.stringify({ publicKey: agent.key.publicJwk }), { authorization: `Bearer ${tokens.get(agent.name)}` });
    if (res.status !== 200 && res.status !== 201) throw new Error(`register ${agent.name}: ${res.status} ${res.body.slice(0, 200)}`);
    agent.audience = (JSON.parse(res.body) as { audience: string }).audience;
  };

  // The first clusters are set up in isolated windows (one kind in flight), the rest in bulk.
  const isolated = Math.min(100, agents.length);
  const first = agents.slice(0, isolated);
  // The idle rate: the child's CPU while nothing is in flight (timers, the clock, GC), per second.
  const measureIdle = async (seconds: number) => {
    await sleep(500);
    await child.flush();
    const a = await child.cpuMs();
    const t = performance.now();
    await sleep(seconds * 1000);
    idleRate = ((await child.cpuMs()).ms - a.ms) / ((performance.now() - t) / 1000);
  };
  await measureIdle(3);
  await window('cluster put', first.length, 4, (i) => putCluster(first[i]!), false);
  await window('registration token', first.length, 4, (i) => issueToken(first[i]!), false);
  await window('register', first.length, 4, (i) => register(first[i]!), false);
  log(`  registering ${agents.length} clusters (PUT cluster, registration token, POST /v1/agent/register; ${options.concurrency} at a time)`);
  const rest = agents.slice(isolated);
  let done = 0;
  await bounded(rest.length, options.concurrency, async (i) => {
    const agent = rest[i]!;
    await putCluster(agent);
    await issueToken(agent);
    await register(agent);
    if (++done % 2000 === 0) log(`    ${done + isolated} registered`);
  });
  // Every agent's first cycle: the full desired state and its first report.
  log(`  first check-in and report of every agent`);
  await bounded(agents.length, options.concurrency, async (i) => {
    const agent = agents[i]!;
    await checkIn(client, agent);
    agent.progressing.clear();
    await sendReport(client, agent, JSON.stringify(buildReport(agent)), 'report-first');
  });
  const setupSeconds = (performance.now() - setupStarted) / 1000;

  // ---- Steady phase ---------------------------------------------------------------------------
  log(`  steady phase: ${options.seconds} s at ${options.rate} agent cycles/s`);
  await child.flush();
  client.phase = 'steady';
  const steadyCpu0 = await child.cpuMs();
  const steadyLog0 = child.logBytes();
  const steadyStarted = performance.now();
  const deadline = steadyStarted + options.seconds * 1000;
  const order = agents.map((_, i) => i).sort(() => rand() - 0.5);
  let cursor = 0;
  let inFlight = 0;
  let skipped = 0;
  const running: Promise<void>[] = [];
  const heartbeatMs = options.heartbeatSeconds * 1000;
  const failures: string[] = [];
  const note = (err: unknown) => {
    if (failures.length < 5) failures.push(String((err as Error)?.message ?? err));
  };

  // Agents: one cycle every 1/rate s, at most `concurrency` in flight (a slower server is noted, not queued up).
  const agentsLoop = (async () => {
    const started = performance.now();
    let launched = 0;
    while (performance.now() < deadline) {
      const due = Math.floor(((performance.now() - started) / 1000) * options.rate);
      while (launched < due) {
        launched += 1;
        if (inFlight >= options.concurrency) {
          skipped += 1;
          continue;
        }
        const agent = agents[order[cursor++ % order.length]!]!;
        inFlight += 1;
        // The agent resends an unchanged report hourly against a 10-minute heartbeat: six heartbeats per resend.
        const p = cycle(client, agent, { heartbeatMs, resendMs: heartbeatMs * 6, driftChance: options.driftChance, random: rand })
          .catch(note)
          .finally(() => (inFlight -= 1));
        running.push(p);
      }
      await sleep(5);
    }
  })();
  // CI and SREs: a release of a few apps every quarter of the run (dev tracks it), promoted to
  // staging, then prod region by region; the fleet view and cluster pages read now and then.
  const publishLoop = (async () => {
    let minor = 0;
    for (let round = 1; performance.now() < deadline - 3000; round++) {
      await sleep(Math.max(2000, (options.seconds * 1000) / 5));
      if (performance.now() > deadline - 3000) break;
      minor += 1;
      const chosen = apps.filter((_, i) => (i + round) % 4 === 0);
      for (const app of chosen) await publish(app, `1.0.${minor}`).catch(note);
      for (const app of chosen) {
        // The new release goes to staging; what staging held before goes on to prod, region by region.
        const previous = pins.get(`${app}/staging/${REGIONS[0]}`) ?? '1.0.0';
        await promote(app, 'staging', undefined, releases.get(app)!.at(-1)!).catch(note);
        for (const region of REGIONS) {
          if (pins.get(`${app}/prod/${region}`) === previous) continue;
          await promote(app, 'prod', region, previous).catch(note);
          await sleep(200);
        }
      }
    }
  })();
  const readersLoop = (async () => {
    let next: string | undefined;
    let lastFleet = 0;
    while (performance.now() < deadline) {
      if (performance.now() - lastFleet > 15_000) {
        lastFleet = performance.now();
        await client.admin('fleet read', 'GET', '/v1/fleet').catch(note);
      }
      const page = await client.admin('clusters page', 'GET', `/v1/clusters?limit=100${next ? `&cursor=${encodeURIComponent(next)}` : ''}`).catch(note);
      next = page?.nextCursor ?? undefined;
      await sleep(2000);
    }
  })();
  await Promise.all([agentsLoop, publishLoop, readersLoop]);
  await Promise.all(running);
  const steadySeconds = (performance.now() - steadyStarted) / 1000;
  await child.flush();
  const steadyCpu1 = await child.cpuMs();
  const steadyLog = child.logBytes() - steadyLog0;
  aggregator.join();
  if (skipped > 0) log(`  the server fell behind: ${skipped} agent cycles were skipped (more than ${options.concurrency} in flight)`);
  if (failures.length > 0) log(`  failures in the steady phase (first ${failures.length}): ${failures.join(' | ')}`);

  // ---- Isolated per-kind windows for CPU and log bytes ------------------------------------------
  // Measured again once the steady phase's work has settled: the windows subtract this one.
  await measureIdle(5);
  log(`  isolated per-kind CPU windows (idle ${idleRate.toFixed(1)} ms/s)`);
  client.phase = 'windows';
  const sample = (n: number, offset: number) => Array.from({ length: Math.min(n, agents.length) }, (_, i) => agents[(offset + i * 7) % agents.length]!);
  const N = 300;
  await window('healthz', 600, 4, async () => {
    await client.request('healthz', 'GET', '/healthz');
  });
  const never = 10 * 365 * 86_400;
  await child.setHeartbeat(never);
  let pick = sample(N, 1);
  // Their ETags first, untimed: the steady phase's promotions and releases changed what many agents run.
  for (const agent of pick) await checkIn(client, agent, 'warm-up');
  await window('check-in 304', pick.length, 4, async (i) => void (await checkIn(client, pick[i]!)));
  pick = sample(N, 2);
  await window('check-in 200', pick.length, 4, async (i) => void (await checkIn(client, pick[i]!, 'checkin-full')));
  pick = sample(N, 3).filter((agent) => agent.lastReport);
  await window('report heartbeat', pick.length, 4, async (i) => void (await sendReport(client, pick[i]!, pick[i]!.lastReport!.body, 'report-heartbeat')));
  await child.setHeartbeat(0);
  pick = sample(N, 4);
  await window('check-in 304 + heartbeat', pick.length, 4, async (i) => void (await checkIn(client, pick[i]!, 'checkin', true)));
  pick = sample(N, 5).filter((agent) => agent.lastReport);
  await window('report heartbeat + lastSeen', pick.length, 4, async (i) => void (await sendReport(client, pick[i]!, pick[i]!.lastReport!.body, 'report-heartbeat')));
  await child.setHeartbeat(never);
  pick = sample(N, 6);
  await window('report changed', pick.length, 4, async (i) => {
    const agent = pick[i]!;
    const app = [...agent.desired.keys()][i % agent.desired.size]!;
    agent.progressing = new Set([app]);
    await sendReport(client, agent, JSON.stringify(buildReport(agent)), 'report-changed');
    agent.progressing.clear();
  });
  pick = sample(200, 8);
  await window('report drift', pick.length, 4, async (i) => {
    const agent = pick[i]!;
    const app = [...agent.desired.keys()][i % agent.desired.size]!;
    await sendReport(client, agent, JSON.stringify(buildReport(agent, { app, corrected: i % 3 !== 0 })), 'report-drift');
  });
  await child.setHeartbeat(options.heartbeatSeconds);
  let minor = 100;
  await window('publish', 40, 2, async (i) => publish(apps[i % apps.length]!, `1.1.${minor + Math.floor(i / apps.length)}`));
  await window('promote', 40, 2, async (i) => {
    const app = apps[i % apps.length]!;
    const region = REGIONS[Math.floor(i / apps.length) % REGIONS.length]!;
    const held = pins.get(`${app}/staging/${region}`);
    const version = releases.get(app)!.filter((v) => v !== held).at(-1)!;
    await promote(app, 'staging', region, version);
  });
  minor += 1;
  let clusterCursor: string | undefined;
  await window('clusters page', 40, 1, async () => {
    const page = await client.admin('clusters page', 'GET', `/v1/clusters?limit=100${clusterCursor ? `&cursor=${encodeURIComponent(clusterCursor)}` : ''}`);
    clusterCursor = page.nextCursor ?? undefined;
  });
  await window('fleet read', 3, 1, async () => void (await client.admin('fleet read', 'GET', '/v1/fleet')));
  await child.flush();
  await sleep(300);
  aggregator.join(true);
  const clock = await child.clock();
  const rss = (await child.cpuMs()).rss;

  // ---- Figures ----------------------------------------------------------------------------------
  const steadyTable = aggregator.phases.get('steady') ?? new Map<string, KindSum>();
  const kinds = [...aggregator.kinds.values()]
    .sort((a, b) => b.count - a.count)
    .map((sum) => figuresOf(sum, cpu.get(sum.kind), steadyTable.get(sum.kind)));
  const totals: Totals = { requests: 0, seconds: steadySeconds, dynamoCalls: 0, readUnits: 0, writeUnits: 0, s3Calls: 0, serverCpuMs: steadyCpu1.ms - steadyCpu0.ms, logBytes: steadyLog, byKind: {} };
  for (const sum of steadyTable.values()) {
    totals.requests += sum.count;
    totals.byKind[sum.kind] = sum.count;
    totals.dynamoCalls += Object.values(sum.dynamoCalls).reduce((a, b) => a + b, 0);
    totals.readUnits += sum.readUnits;
    totals.writeUnits += sum.writeUnits;
    totals.s3Calls += Object.values(sum.s3Calls).reduce((a, b) => a + b, 0);
  }
  const changed = agents.filter((agent) => agent.lastReport).map((agent) => Buffer.byteLength(agent.lastReport!.body));
  return {
    storage: options.storage,
    clusters: options.clusters,
    apps: options.apps,
    seconds: options.seconds,
    rate: options.rate,
    heartbeatSeconds: options.heartbeatSeconds,
    node: process.version,
    setupSeconds,
    idleCpuMsPerSecond: idleRate,
    kinds,
    steady: totals,
    clock,
    reportBytes: changed.reduce((a, b) => a + b, 0) / Math.max(1, changed.length),
    serverRssBytes: rss,
    transportErrors: client.transportErrors,
  };
}
