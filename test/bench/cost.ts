// The cost model of `npm run bench:fleet`: $ per cluster-month from the measured per-request
// figures (server CPU, DynamoDB requests and capacity units, S3 requests, log bytes) and the AWS
// list prices in test/bench/prices.ts, at 30-s and 60-s check-in intervals, for 100 / 1,000 /
// 10,000 clusters, beside what the peers' management clusters cost at their published sizing.
// `npm run bench:cost [file]` prints it again from saved figures (default .bench/fleet.json).
// The arithmetic is pure (cost.test.ts checks it); only figuresForCost and the CLI read files.
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_CONFIG } from '../../functions/context.ts';
import { GB, HOURS_PER_MONTH, PRICES, PRICES_AS_OF, PRICES_REGION } from './prices.ts';
import type { RunFigures } from './fleet/run.ts';
import { table } from './fleet/format.ts';

/** What one request costs the server, as measured. */
export interface RequestProfile {
  cpuMs: number;
  dynamoCalls: number;
  readUnits: number;
  writeUnits: number;
  s3Put: number;
  s3Get: number;
  logBytes: number;
}

/** The request kinds the model prices, and the measured kind each one is. */
export const PROFILE_KINDS = {
  checkin304: 'check-in 304',
  checkin304Heartbeat: 'check-in 304 + heartbeat',
  checkin200: 'check-in 200',
  reportHeartbeat: 'report heartbeat',
  reportChanged: 'report changed',
  fleetRead: 'fleet read',
} as const;
export type ProfileName = keyof typeof PROFILE_KINDS;
export type AgentProfileName = Exclude<ProfileName, 'fleetRead'>;

export interface CostFigures {
  /** Where the figures come from (storage backend, fleet size, date). */
  source: string;
  /** Clusters in the measured fleet (a fleet read's cost grows with it). */
  clusters: number;
  lambdaMemoryMb: number;
  profiles: Record<AgentProfileName, RequestProfile> & { fleetRead?: RequestProfile };
  /** One run of the clock (rollout soaks and deadlines), its own Lambda invocation every minute. */
  clock: RequestProfile;
  /** Bytes of one stored report (one S3 object per changed report, content-addressed). */
  reportBytes: number;
}

export interface Assumptions {
  intervalSeconds: number;
  heartbeatSeconds: number;
  /** How often the agent sends an unchanged report again (agent/agent.ts reportHeartbeatMs). */
  resendSeconds: number;
  /** Status changes per cluster per day, each one changed report. */
  statusChangesPerDay: number;
  /** Desired-state changes per cluster per day, each one check-in 200 instead of a 304. */
  desiredChangesPerDay: number;
  daysPerMonth: number;
  /** In-region DynamoDB and S3 latency the function waits for, per request (calls counted as sequential). */
  dynamoLatencyMs: number;
  s3LatencyMs: number;
  /**
   * Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB: measured CPU ms
   * (one full core here) take this many times longer at the configured memory. The cores of this
   * machine and Graviton are taken as equally fast.
   */
  fullCoreMemoryMb: number;
  /** Lambda's START, END and REPORT lines (text format, SST's default: infra/ sets no logging config). */
  platformLogBytes: number;
  platformLogEvents: number;
  /** CloudWatch Logs bills each event's uncompressed size plus this metadata. */
  logEventOverheadBytes: number;
  /** Log events the app writes per request (0: it logs only errors). */
  appLogEventsPerRequest: number;
  clockRunsPerMonth: number;
  /** DynamoDB bytes kept per cluster: the cluster item with 20 app summaries, keys, tokens. */
  dynamoBytesPerCluster: number;
  /** Audit-event bytes written per changed report (kept: events have no TTL). */
  eventBytesPerChange: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  intervalSeconds: 30,
  heartbeatSeconds: DEFAULT_CONFIG.heartbeatSeconds,
  resendSeconds: 3600,
  statusChangesPerDay: 1,
  desiredChangesPerDay: 1,
  daysPerMonth: 30,
  dynamoLatencyMs: 4,
  s3LatencyMs: 15,
  fullCoreMemoryMb: 1769,
  // "START RequestId: <uuid> Version: $LATEST" 72, "END RequestId: <uuid>" 52,
  // "REPORT RequestId: <uuid>\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\tMax Memory Used: 95 MB\t" 131
  platformLogBytes: 255,
  platformLogEvents: 3,
  logEventOverheadBytes: 26,
  appLogEventsPerRequest: 0,
  clockRunsPerMonth: (30 * 86_400) / 60,
  dynamoBytesPerCluster: 8 * 1024,
  eventBytesPerChange: 1024,
};

export interface RequestCost {
  billedMs: number;
  lambda: number;
  dynamo: number;
  s3: number;
  logs: number;
  total: number;
}

/** How much slower CPU work runs at `memoryMb` than on a full core. */
export const cpuScale = (a: Assumptions, memoryMb: number) => Math.max(1, a.fullCoreMemoryMb / memoryMb);

/** Lambda duration of one request: CPU (at the memory's share of a core), plus waiting on each DynamoDB and S3 call in turn. */
export const invocationMs = (p: RequestProfile, a: Assumptions, memoryMb: number) =>
  p.cpuMs * cpuScale(a, memoryMb) + p.dynamoCalls * a.dynamoLatencyMs + (p.s3Put + p.s3Get) * a.s3LatencyMs;

export function requestCost(p: RequestProfile, a: Assumptions, memoryMb: number): RequestCost {
  const billedMs = Math.ceil(invocationMs(p, a, memoryMb));
  const lambda = PRICES.lambda.perMillionRequests / 1e6 + (billedMs / 1000) * (memoryMb / 1024) * PRICES.lambda.perGbSecond;
  const dynamo = (p.readUnits * PRICES.dynamodb.perMillionReadRequestUnits + p.writeUnits * PRICES.dynamodb.perMillionWriteRequestUnits) / 1e6;
  const s3 = (p.s3Put * PRICES.s3.perThousandPut + p.s3Get * PRICES.s3.perThousandGet) / 1000;
  const logEvents = a.platformLogEvents + a.appLogEventsPerRequest;
  const logs = ((p.logBytes + a.platformLogBytes + logEvents * a.logEventOverheadBytes) / GB) * PRICES.cloudwatchLogs.ingestionPerGb;
  return { billedMs, lambda, dynamo, s3, logs, total: lambda + dynamo + s3 + logs };
}

/**
 * Requests per cluster-month: a check-in every interval; one in every heartbeat period carries the
 * heartbeat and writes `lastSeen`; each desired change turns a 304 into a 200; each status change
 * is one changed report; an unchanged report is sent again every `resendSeconds`.
 */
export function monthlyCounts(a: Assumptions): Record<AgentProfileName, number> {
  const seconds = a.daysPerMonth * 86_400;
  const checkIns = seconds / a.intervalSeconds;
  const heartbeats = seconds / Math.max(a.heartbeatSeconds, a.intervalSeconds);
  const desired = a.desiredChangesPerDay * a.daysPerMonth;
  return {
    checkin304: Math.max(0, checkIns - heartbeats - desired),
    checkin304Heartbeat: heartbeats,
    checkin200: desired,
    reportHeartbeat: seconds / a.resendSeconds,
    reportChanged: a.statusChangesPerDay * a.daysPerMonth,
  };
}

export interface ClusterMonth {
  lines: { name: AgentProfileName; kind: string; count: number; perRequest: RequestCost; monthly: number }[];
  requests: number;
  storage: number;
  /** Per cluster, without the clock. */
  variable: number;
  /** The clock's monthly cost, shared by the fleet. */
  fixed: number;
  byService: { lambda: number; dynamo: number; s3: number; logs: number; storage: number };
}

export function clusterMonth(figures: CostFigures, a: Assumptions = DEFAULT_ASSUMPTIONS): ClusterMonth {
  const counts = monthlyCounts(a);
  const byService = { lambda: 0, dynamo: 0, s3: 0, logs: 0, storage: 0 };
  const lines = (Object.keys(counts) as AgentProfileName[]).map((name) => {
    const perRequest = requestCost(figures.profiles[name], a, figures.lambdaMemoryMb);
    const count = counts[name];
    byService.lambda += perRequest.lambda * count;
    byService.dynamo += perRequest.dynamo * count;
    byService.s3 += perRequest.s3 * count;
    byService.logs += perRequest.logs * count;
    return { name, kind: PROFILE_KINDS[name], count, perRequest, monthly: perRequest.total * count };
  });
  // Storage: the table's share of the cluster and its month of events, and the month's report
  // objects in S3 (content-addressed and kept), each priced for one month.
  const changes = a.statusChangesPerDay * a.daysPerMonth;
  const storage =
    ((a.dynamoBytesPerCluster + changes * a.eventBytesPerChange) / GB) * PRICES.dynamodb.storagePerGbMonth +
    ((changes * figures.reportBytes) / GB) * PRICES.s3.storagePerGbMonth;
  byService.storage = storage;
  const fixed = requestCost(figures.clock, a, figures.lambdaMemoryMb).total * a.clockRunsPerMonth;
  const variable = lines.reduce((sum, line) => sum + line.monthly, 0) + storage;
  return { lines, requests: lines.reduce((sum, line) => sum + line.count, 0), storage, variable, fixed, byService };
}

/** Monthly total for a fleet of `clusters`, and per cluster (the clock shared). */
export function fleetMonth(figures: CostFigures, clusters: number, a: Assumptions = DEFAULT_ASSUMPTIONS) {
  const month = clusterMonth(figures, a);
  const total = month.variable * clusters + month.fixed;
  return { total, perCluster: total / clusters };
}

/** A dashboard reading GET /v1/fleet once a minute: its reads grow with the fleet (it reads every cluster). */
export function fleetReadMonth(figures: CostFigures, clusters: number, a: Assumptions = DEFAULT_ASSUMPTIONS): number | null {
  const read = figures.profiles.fleetRead;
  if (!read) return null;
  const scale = clusters / figures.clusters;
  const scaled: RequestProfile = { ...read, cpuMs: read.cpuMs * scale, dynamoCalls: read.dynamoCalls * scale, readUnits: read.readUnits * scale };
  return requestCost(scaled, a, figures.lambdaMemoryMb).total * ((a.daysPerMonth * 86_400) / 60);
}

export interface PeerCost {
  name: string;
  sizing: string;
  unitClusters: number;
  instances: string;
  perHour: number;
}

/** The peers' published sizing, priced as EC2 on-demand nodes plus an EKS control plane. */
export const PEERS: PeerCost[] = [
  {
    name: 'Rancher Fleet',
    sizing: '16 vCPU / 64 GB management cluster for 50 apps × 500 clusters',
    unitClusters: 500,
    instances: 'm7g.4xlarge',
    perHour: PRICES.ec2.perHour['m7g.4xlarge']!,
  },
  {
    name: 'KubeFleet hub (8 cores)',
    sizing: '8–12 cores for 1,000 clusters: low end',
    unitClusters: 1000,
    instances: 'm7g.2xlarge',
    perHour: PRICES.ec2.perHour['m7g.2xlarge']!,
  },
  {
    name: 'KubeFleet hub (12 cores)',
    sizing: '8–12 cores for 1,000 clusters: high end',
    unitClusters: 1000,
    instances: 'm7g.2xlarge + m7g.xlarge',
    perHour: PRICES.ec2.perHour['m7g.2xlarge']! + PRICES.ec2.perHour['m7g.xlarge']!,
  },
];

/** A management cluster per `unitClusters` (at least one), each with its nodes and an EKS control plane. */
export function peerMonth(peer: PeerCost, clusters: number): { total: number; perCluster: number } {
  const units = Math.max(1, Math.ceil(clusters / peer.unitClusters));
  const total = units * (peer.perHour + PRICES.eks.clusterPerHour) * HOURS_PER_MONTH;
  return { total, perCluster: total / clusters };
}

export const TARGET_PER_CLUSTER_MONTH_30S = 0.03;
const SIZES = [100, 1000, 10_000];
const usd = (value: number) => (value >= 100 ? `$${value.toFixed(0)}` : value >= 1 ? `$${value.toFixed(2)}` : `$${value.toFixed(4)}`);
const micro = (value: number) => `${(value * 1e6).toFixed(3)}`;

export function costReport(figures: CostFigures, base: Assumptions = DEFAULT_ASSUMPTIONS): string {
  const out: string[] = [];
  out.push(`== cost model (${PRICES_REGION} list prices, ${PRICES_AS_OF}; test/bench/prices.ts), from ${figures.source}`);
  out.push(
    `   Lambda arm64 at ${figures.lambdaMemoryMb} MB (infra/control-plane.ts); duration = measured server CPU × ${cpuScale(base, figures.lambdaMemoryMb).toFixed(2)} (a ${figures.lambdaMemoryMb} MB function gets ${figures.lambdaMemoryMb}/${base.fullCoreMemoryMb} of a vCPU) + ${base.dynamoLatencyMs} ms per DynamoDB call + ${base.s3LatencyMs} ms per S3 call (assumed in-region latencies, calls taken as sequential), billed per 1 ms;`,
  );
  out.push(
    base.platformLogBytes > 0
      ? `   logs: measured app log bytes + Lambda's START/END/REPORT lines (${base.platformLogBytes} B: infra/control-plane.ts keeps the platform's log lines) + ${base.logEventOverheadBytes} B per event; no free tiers.`
      : `   logs: measured app log bytes only (infra/control-plane.ts logs JSON with the platform's lines at WARN: no START/END/REPORT per invocation); no free tiers.`,
  );
  out.push(
    `   per cluster: a check-in every interval, one in every ${base.heartbeatSeconds} s carrying the heartbeat (one write of lastSeen), an unchanged report resent every ${base.resendSeconds} s, ${base.desiredChangesPerDay} desired change/day (a 200), ${base.statusChangesPerDay} status change/day (a changed report), ${base.daysPerMonth}-day month.`,
  );
  for (const intervalSeconds of [30, 60]) {
    const a = { ...base, intervalSeconds };
    const month = clusterMonth(figures, a);
    out.push('');
    out.push(`   check-in every ${intervalSeconds} s: per cluster-month`);
    out.push(
      ...table(
        ['request', 'per month', 'billed ms', 'Lambda µ$', 'DynamoDB µ$', 'S3 µ$', 'logs µ$', 'µ$/request', '$/cluster-month'],
        month.lines.map((line) => [
          line.kind,
          line.count.toFixed(0),
          String(line.perRequest.billedMs),
          micro(line.perRequest.lambda),
          micro(line.perRequest.dynamo),
          micro(line.perRequest.s3),
          micro(line.perRequest.logs),
          micro(line.perRequest.total),
          line.monthly.toFixed(5),
        ]),
      ),
    );
    const s = month.byService;
    out.push(
      `   storage (DynamoDB item + a month of events, S3 report objects) $${month.storage.toFixed(5)}; per cluster $${month.variable.toFixed(4)} ` +
        `(Lambda ${s.lambda.toFixed(4)}, DynamoDB ${s.dynamo.toFixed(4)}, S3 ${s.s3.toFixed(4)}, logs ${s.logs.toFixed(4)}); the clock $${month.fixed.toFixed(2)}/month for the whole fleet`,
    );
    const rows = SIZES.map((n) => {
      const fleet = fleetMonth(figures, n, a);
      const read = fleetReadMonth(figures, n, a);
      return [String(n), usd(fleet.total), `$${fleet.perCluster.toFixed(4)}`, read === null ? '—' : usd(read)];
    });
    out.push(...table(['clusters', 'Flotilla $/month', '$/cluster-month', '+ /v1/fleet read once a minute $/month'], rows));
    if (intervalSeconds === 30) {
      const at = fleetMonth(figures, 10_000, a).perCluster;
      out.push(
        `   target: $${TARGET_PER_CLUSTER_MONTH_30S.toFixed(3)} per cluster-month at 30 s; measured model: $${month.variable.toFixed(4)} per cluster ($${at.toFixed(4)} at 10,000 with the clock) — ` +
          `${month.variable <= TARGET_PER_CLUSTER_MONTH_30S ? 'within' : `${(month.variable / TARGET_PER_CLUSTER_MONTH_30S).toFixed(1)}× over`} the target`,
      );
    }
  }
  out.push('');
  out.push(
    `   the peers: a management cluster at their published sizing, EC2 on-demand (${PRICES.ec2.source}) + an EKS control plane ($${PRICES.eks.clusterPerHour}/h), ${HOURS_PER_MONTH} h/month, one more per unit of their sizing, at least one; their check-ins cost nothing extra`,
  );
  const peerRows = PEERS.map((peer) => [
    peer.name,
    peer.sizing,
    `${peer.instances} ($${peer.perHour.toFixed(4)}/h)`,
    ...SIZES.map((n) => {
      const cost = peerMonth(peer, n);
      return `${usd(cost.total)} ($${cost.perCluster.toFixed(3)}/cl)`;
    }),
  ]);
  const a30 = { ...base, intervalSeconds: 30 };
  peerRows.push([
    'Flotilla (30 s)',
    'this model',
    'Lambda + DynamoDB + S3',
    ...SIZES.map((n) => {
      const cost = fleetMonth(figures, n, a30);
      return `${usd(cost.total)} ($${cost.perCluster.toFixed(3)}/cl)`;
    }),
  ]);
  out.push(...table(['', 'sizing', 'priced as', ...SIZES.map((n) => `${n} clusters`)], peerRows));
  return out.join('\n');
}

// ---- From a run's figures ------------------------------------------------------------------------

const S3_PUT_CLASS = /^(Put|Copy|Post|List|CreateMultipart|UploadPart|CompleteMultipart)/;

const infraSource = () => readFileSync(fileURLToPath(new URL('../../infra/control-plane.ts', import.meta.url)), 'utf8');

/** The assumptions for the deployment infra/ declares: no platform log lines when it sets their level to WARN. */
export function deploymentAssumptions(base: Assumptions = DEFAULT_ASSUMPTIONS): Assumptions {
  const quiet = /systemLogLevel:\s*'WARN'/.test(infraSource());
  return quiet ? { ...base, platformLogBytes: 0, platformLogEvents: 0 } : base;
}

/** Lambda memory declared in infra/control-plane.ts (`memory: '512 MB'`). */
export function lambdaMemoryMb(): number {
  const source = infraSource();
  const match = /memory:\s*'(\d+)\s*MB'/.exec(source);
  if (!match) throw new Error('infra/control-plane.ts declares no Lambda memory as `memory: \'<n> MB\'`');
  return Number(match[1]);
}

/**
 * The figures to price, from the runs of one bench:fleet: everything from the embedded run when
 * there is one (its storage runs in a process of its own, so the server's CPU is the control
 * plane's alone; dynalite sizes ConsumedCapacity by the items, as DynamoDB does, where moto
 * reports a flat figure per call, and moto here is too slow under load for CPU windows).
 */
export function figuresForCost(runs: RunFigures[], memoryMb = lambdaMemoryMb()): CostFigures {
  const cpuRun = runs.find((run) => run.storage === 'embedded') ?? runs[0];
  const unitsRun = runs.find((run) => run.storage === 'embedded') ?? runs[0];
  if (!cpuRun || !unitsRun) throw new Error('no runs to price');
  const find = (run: RunFigures, kind: string) => run.kinds.find((candidate) => candidate.kind === kind);
  const profileOf = (kind: string): RequestProfile | undefined => {
    const usage = find(unitsRun, kind) ?? find(cpuRun, kind);
    const cpu = find(cpuRun, kind)?.cpuMs != null ? find(cpuRun, kind) : find(unitsRun, kind);
    if (!usage) return undefined;
    let s3Put = 0;
    let s3Get = 0;
    for (const [op, n] of Object.entries(usage.s3ByOp)) {
      if (S3_PUT_CLASS.test(op)) s3Put += n;
      else if (!/^Delete/.test(op)) s3Get += n;
    }
    // A fleet read's CPU grows with the clusters it reads: brought to the units run's size.
    const scale = kind === PROFILE_KINDS.fleetRead && cpu === find(cpuRun, kind) ? unitsRun.clusters / cpuRun.clusters : 1;
    return {
      cpuMs: (cpu?.cpuMs ?? 0) * scale,
      dynamoCalls: usage.dynamoPerRequest,
      readUnits: usage.readUnits,
      writeUnits: usage.writeUnits,
      s3Put,
      s3Get,
      logBytes: cpu?.logBytes ?? usage.logBytes ?? 0,
    };
  };
  const profiles = {} as CostFigures['profiles'];
  for (const [name, kind] of Object.entries(PROFILE_KINDS) as [ProfileName, string][]) {
    const profile = profileOf(kind);
    if (profile) profiles[name] = profile;
    else if (name !== 'fleetRead') throw new Error(`the figures have no "${kind}" requests to price`);
  }
  const clockRun = unitsRun.clock.runs > 0 ? unitsRun : cpuRun;
  const runsOfClock = Math.max(1, clockRun.clock.runs);
  const clockCalls = Object.values(clockRun.clock.dynamoCalls).reduce((a, b) => a + b, 0) / runsOfClock;
  const name = (run: RunFigures) => `${run.storage === 'moto' ? "moto's server" : 'the embedded storage'} (${run.clusters} clusters × ${run.apps} apps)`;
  return {
    source: cpuRun === unitsRun ? name(cpuRun) : `CPU and log bytes from ${name(cpuRun)}, DynamoDB and S3 requests and units from ${name(unitsRun)}`,
    clusters: unitsRun.clusters,
    lambdaMemoryMb: memoryMb,
    profiles,
    // The clock's CPU is not measured apart from requests; its duration is taken as 2 ms plus its calls.
    clock: { cpuMs: 2, dynamoCalls: clockCalls, readUnits: clockRun.clock.readUnits / runsOfClock, writeUnits: clockRun.clock.writeUnits / runsOfClock, s3Put: 0, s3Get: clockRun.clock.s3Calls / runsOfClock, logBytes: 0 },
    reportBytes: unitsRun.reportBytes,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2] ?? '.bench/fleet.json';
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { runs: RunFigures[] };
    if (!saved.runs?.length) throw new Error(`${file} holds no runs`);
    console.log(costReport(figuresForCost(saved.runs), deploymentAssumptions()));
  } catch (err) {
    const code = (err as { code?: string }).code;
    console.error(code === 'ENOENT' ? `no saved figures at ${file}; run npm run bench:fleet first` : `bench:cost: ${(err as Error).message}`);
    process.exit(1);
  }
}
