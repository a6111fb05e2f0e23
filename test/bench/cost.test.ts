// The cost model's arithmetic (test/bench/cost.ts) on known per-request profiles; no timings.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ASSUMPTIONS,
  PEERS,
  clusterMonth,
  figuresForCost,
  fleetMonth,
  fleetReadMonth,
  invocationMs,
  monthlyCounts,
  peerMonth,
  requestCost,
  type Assumptions,
  type CostFigures,
  type RequestProfile,
} from './cost.ts';
import { GB, PRICES } from './prices.ts';
import type { RunFigures } from './fleet/run.ts';
import type { KindFigures } from './fleet/stats.ts';

const checkIn: RequestProfile = { cpuMs: 6, dynamoCalls: 2, readUnits: 1, writeUnits: 0, s3Put: 0, s3Get: 0, logBytes: 0 };
const nothing: RequestProfile = { cpuMs: 0, dynamoCalls: 0, readUnits: 0, writeUnits: 0, s3Put: 0, s3Get: 0, logBytes: 0 };
const noStorage: Assumptions = { ...DEFAULT_ASSUMPTIONS, dynamoBytesPerCluster: 0, eventBytesPerChange: 0 };

function figures(profile: RequestProfile, overrides: Partial<CostFigures> = {}): CostFigures {
  return {
    source: 'test',
    clusters: 1000,
    lambdaMemoryMb: 512,
    profiles: { checkin304: profile, checkin304Heartbeat: profile, checkin200: profile, reportHeartbeat: profile, reportChanged: profile },
    clock: nothing,
    reportBytes: 0,
    ...overrides,
  };
}

describe('requestCost', () => {
  it('prices a check-in: 6 ms CPU + 2 × 4 ms DynamoDB on a full core (1,769 MB), 1 read unit, the platform log lines', () => {
    const cost = requestCost(checkIn, DEFAULT_ASSUMPTIONS, 1769);
    expect(invocationMs(checkIn, DEFAULT_ASSUMPTIONS, 1769)).toBe(14);
    expect(cost.billedMs).toBe(14);
    // $0.20 per million requests + 0.014 s × 1769/1024 GB × $0.0000133334
    expect(cost.lambda).toBeCloseTo(0.2e-6 + 0.014 * (1769 / 1024) * 0.0000133334, 15);
    expect(cost.dynamo).toBeCloseTo(0.125e-6, 15);
    expect(cost.s3).toBe(0);
    // 255 bytes of START/END/REPORT + 3 × 26 bytes of event metadata at $0.50 per GB
    expect(cost.logs).toBeCloseTo((333 / GB) * 0.5, 15);
    expect(cost.total).toBeCloseTo(0.2e-6 + 3.22477e-7 + 1.25e-7 + 1.5506e-7, 10);
  });

  it('at 512 MB the CPU part runs 1769/512 times longer (a share of a vCPU), the waits do not', () => {
    expect(invocationMs(checkIn, DEFAULT_ASSUMPTIONS, 512)).toBeCloseTo(6 * (1769 / 512) + 8, 12);
    const cost = requestCost(checkIn, DEFAULT_ASSUMPTIONS, 512);
    expect(cost.billedMs).toBe(29); // 20.73 + 8 = 28.73, billed per started ms
    expect(cost.lambda).toBeCloseTo(0.2e-6 + 0.029 * 0.5 * 0.0000133334, 15);
  });

  it('bills duration per started millisecond', () => {
    expect(requestCost({ ...nothing, cpuMs: 0.2 }, DEFAULT_ASSUMPTIONS, 1024).billedMs).toBe(1);
    expect(requestCost({ ...nothing, cpuMs: 1.01 }, DEFAULT_ASSUMPTIONS, 1024).billedMs).toBe(2);
  });

  it('prices a million write units at $0.625 and a thousand S3 PUTs at $0.005', () => {
    expect(requestCost({ ...nothing, writeUnits: 1e6 }, DEFAULT_ASSUMPTIONS, 512).dynamo).toBeCloseTo(0.625, 12);
    expect(requestCost({ ...nothing, s3Put: 1000 }, DEFAULT_ASSUMPTIONS, 512).s3).toBeCloseTo(0.005, 12);
    expect(requestCost({ ...nothing, s3Get: 1000 }, DEFAULT_ASSUMPTIONS, 512).s3).toBeCloseTo(0.0004, 12);
  });
});

describe('monthlyCounts', () => {
  it('at 30 s: 86,400 check-ins a month, one in twenty carrying the 10-minute heartbeat, one 200 and one changed report a day, an hourly resend', () => {
    expect(DEFAULT_ASSUMPTIONS.heartbeatSeconds).toBe(600);
    expect(monthlyCounts({ ...DEFAULT_ASSUMPTIONS, intervalSeconds: 30 })).toEqual({
      checkin304: 86_400 - 4_320 - 30,
      checkin304Heartbeat: 4_320,
      checkin200: 30,
      reportHeartbeat: 720,
      reportChanged: 30,
    });
  });

  it('at 60 s: half the check-ins, the same heartbeats', () => {
    const counts = monthlyCounts({ ...DEFAULT_ASSUMPTIONS, intervalSeconds: 60 });
    expect(counts.checkin304).toBe(43_200 - 4_320 - 30);
    expect(counts.checkin304Heartbeat).toBe(4_320);
  });
});

describe('clusterMonth and fleetMonth', () => {
  it('is the per-request price times the requests of a month', () => {
    const month = clusterMonth(figures(checkIn), noStorage);
    const requests = 86_400 + 720 + 30; // every check-in, the hourly resends, the changed reports
    expect(month.requests).toBe(requests);
    expect(month.variable).toBeCloseTo(requests * requestCost(checkIn, noStorage, 512).total, 12);
    expect(month.storage).toBe(0);
  });

  it('prices storage for a month: the cluster item, its events and its report objects', () => {
    const month = clusterMonth(figures(nothing, { reportBytes: 10_240 }), { ...noStorage, dynamoBytesPerCluster: GB, eventBytesPerChange: 0 });
    expect(month.storage).toBeCloseTo(PRICES.dynamodb.storagePerGbMonth + ((30 * 10_240) / GB) * PRICES.s3.storagePerGbMonth, 12);
  });

  it('shares the clock among the clusters', () => {
    const f = figures(checkIn, { clock: { ...nothing, dynamoCalls: 1, readUnits: 0.5 } });
    const month = clusterMonth(f, noStorage);
    const clockRun = requestCost({ ...nothing, dynamoCalls: 1, readUnits: 0.5 }, noStorage, 512).total;
    expect(month.fixed).toBeCloseTo(clockRun * 43_200, 12);
    expect(fleetMonth(f, 100, noStorage).perCluster).toBeCloseTo(month.variable + month.fixed / 100, 12);
    expect(fleetMonth(f, 10_000, noStorage).total).toBeCloseTo(month.variable * 10_000 + month.fixed, 9);
  });

  it('scales a fleet read with the number of clusters it reads', () => {
    const read: RequestProfile = { ...nothing, cpuMs: 100, dynamoCalls: 10, readUnits: 100 };
    const f = figures(checkIn, { clusters: 1000, profiles: { ...figures(checkIn).profiles, fleetRead: read } });
    const at1000 = fleetReadMonth(f, 1000, noStorage)!;
    expect(at1000).toBeCloseTo(requestCost(read, noStorage, 512).total * 43_200, 12);
    const at2000 = fleetReadMonth(f, 2000, noStorage)!;
    expect(at2000).toBeCloseTo(requestCost({ ...read, cpuMs: 200, dynamoCalls: 20, readUnits: 200 }, noStorage, 512).total * 43_200, 12);
  });
});

describe('peerMonth', () => {
  it('prices Rancher Fleet at its published sizing: one m7g.4xlarge management cluster per 500 clusters, plus EKS', () => {
    const rancher = PEERS.find((peer) => peer.name === 'Rancher Fleet')!;
    expect(peerMonth(rancher, 500).total).toBeCloseTo((0.6528 + 0.1) * 730, 9);
    expect(peerMonth(rancher, 500).perCluster).toBeCloseTo(((0.6528 + 0.1) * 730) / 500, 9);
    expect(peerMonth(rancher, 501).total).toBeCloseTo(2 * (0.6528 + 0.1) * 730, 9);
    expect(peerMonth(rancher, 100).total).toBeCloseTo((0.6528 + 0.1) * 730, 9);
  });
});

describe('figuresForCost', () => {
  const kind = (name: string, cpuMs: number, readUnits: number, s3ByOp: Record<string, number> = {}): KindFigures => ({
    kind: name,
    routes: [],
    count: 10,
    p50: 1,
    p99: 2,
    dynamoPerRequest: 2,
    dynamoByOp: { GetItem: 1, Query: 1 },
    readUnits,
    writeUnits: 0,
    units: 'measured',
    s3PerRequest: Object.values(s3ByOp).reduce((a, b) => a + b, 0),
    s3ByOp,
    cpuMs,
    logBytes: 0,
    cpuSamples: 10,
  });
  const run = (storage: string, cpuMs: number, readUnits: number, clusters: number): RunFigures =>
    ({
      storage,
      clusters,
      apps: 20,
      kinds: [
        ...['check-in 304', 'check-in 304 + heartbeat', 'check-in 200', 'report heartbeat'].map((name) => kind(name, cpuMs, readUnits)),
        kind('report changed', cpuMs, readUnits, { PutObject: 1, GetObject: 0.5, DeleteObject: 1 }),
        kind('fleet read', cpuMs * 10, readUnits * 100),
      ],
      clock: { seconds: 15, runs: 4, failures: 0, ms: 10, dynamoCalls: { Query: 4 }, readUnits: 2, writeUnits: 0, s3Calls: 0 },
      reportBytes: 9000,
    }) as unknown as RunFigures;

  it('takes everything from the embedded run when there is one, S3 requests by price class', () => {
    const f = figuresForCost([run('embedded', 20, 2, 1000), run('moto', 5, 0.5, 100)], 512);
    expect(f.profiles.checkin304).toEqual({ cpuMs: 20, dynamoCalls: 2, readUnits: 2, writeUnits: 0, s3Put: 0, s3Get: 0, logBytes: 0 });
    expect(f.profiles.reportChanged.s3Put).toBe(1);
    expect(f.profiles.reportChanged.s3Get).toBe(0.5);
    expect(f.profiles.fleetRead!.cpuMs).toBe(200);
    expect(f.clusters).toBe(1000);
    expect(f.clock.dynamoCalls).toBe(1);
    expect(f.clock.readUnits).toBe(0.5);
  });

  it("takes moto's run when it is the only one", () => {
    const f = figuresForCost([run('moto', 5, 0.5, 100)], 512);
    expect(f.profiles.checkin304.cpuMs).toBe(5);
    expect(f.clusters).toBe(100);
  });

  it('uses the one run there is for everything', () => {
    const f = figuresForCost([run('embedded', 20, 2, 1000)], 512);
    expect(f.profiles.checkin304.cpuMs).toBe(20);
    expect(f.profiles.fleetRead!.cpuMs).toBe(200);
  });
});
