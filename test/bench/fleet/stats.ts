// Joins the client's latencies with the child's usage records and sums them per request kind.
import type { Sent } from './client.ts';
import type { ServerRecord } from './protocol.ts';

const WRITES = /^(Put|Update|Delete|BatchWrite|TransactWrite)/;

export const writesOf = (record: ServerRecord) =>
  Object.entries(record.usage.dynamo.calls).reduce((sum, [op, n]) => sum + (WRITES.test(op) ? n : 0), 0);

/** The kind printed: what was sent, refined by what the server answered and did. */
export function classify(record: ServerRecord): string {
  const writes = writesOf(record);
  let kind: string;
  switch (record.tag) {
    case 'checkin':
    case 'checkin-full':
      kind = `check-in ${record.status}${writes > 0 ? ' + heartbeat' : ''}`;
      break;
    case 'report-heartbeat':
      kind = writes > 0 ? 'report heartbeat + lastSeen' : 'report heartbeat';
      break;
    case '':
      kind = `${record.method} ${record.route}`;
      break;
    default:
      kind = record.tag.replace(/-/g, ' ');
  }
  return record.status >= 400 && !record.tag.startsWith('checkin') ? `${kind} (${record.status})` : record.status >= 400 ? `${record.tag} (${record.status})` : kind;
}

export interface KindSum {
  kind: string;
  count: number;
  latencies: number[];
  dynamoCalls: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  measured: number;
  estimated: number;
  s3Calls: Record<string, number>;
  routes: Set<string>;
}

export interface KindFigures {
  kind: string;
  routes: string[];
  count: number;
  p50: number | null;
  p99: number | null;
  dynamoPerRequest: number;
  dynamoByOp: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  /** 'measured' when every call's units came from ConsumedCapacity, 'estimated' when none did, else 'mixed'. */
  units: 'measured' | 'estimated' | 'mixed' | 'none';
  s3PerRequest: number;
  s3ByOp: Record<string, number>;
  cpuMs: number | null;
  logBytes: number | null;
  cpuSamples: number;
}

export class Aggregator {
  readonly kinds = new Map<string, KindSum>();
  readonly phases = new Map<string, Map<string, KindSum>>();
  private readonly pending = new Map<string, ServerRecord>();

  constructor(private readonly sent: Map<string, Sent>) {}

  add(records: ServerRecord[]): void {
    for (const record of records) this.pending.set(record.id || `anon-${Math.random()}`, record);
    this.join();
  }

  /** Pairs records with answered requests; unpaired records wait (the answer may come later). */
  join(final = false): void {
    for (const [id, record] of this.pending) {
      const sent = this.sent.get(id);
      if (!sent && !final) continue;
      this.pending.delete(id);
      this.sent.delete(id);
      const kind = classify(record);
      const phase = sent?.phase ?? 'unknown';
      for (const table of [this.kinds, this.table(phase)]) {
        let sum = table.get(kind);
        if (!sum) {
          sum = { kind, count: 0, latencies: [], dynamoCalls: {}, readUnits: 0, writeUnits: 0, measured: 0, estimated: 0, s3Calls: {}, routes: new Set() };
          table.set(kind, sum);
        }
        sum.count += 1;
        if (sent) sum.latencies.push(sent.ms);
        sum.routes.add(`${record.method} ${record.route}`);
        for (const [op, n] of Object.entries(record.usage.dynamo.calls)) sum.dynamoCalls[op] = (sum.dynamoCalls[op] ?? 0) + n;
        for (const [op, n] of Object.entries(record.usage.s3.calls)) sum.s3Calls[op] = (sum.s3Calls[op] ?? 0) + n;
        sum.readUnits += record.usage.dynamo.readUnits;
        sum.writeUnits += record.usage.dynamo.writeUnits;
        sum.measured += record.usage.dynamo.measured;
        sum.estimated += record.usage.dynamo.estimated;
      }
    }
  }

  table(phase: string): Map<string, KindSum> {
    let table = this.phases.get(phase);
    if (!table) this.phases.set(phase, (table = new Map()));
    return table;
  }
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]! : null);
const perRequest = (calls: Record<string, number>, count: number) =>
  Object.fromEntries(Object.entries(calls).sort(([a], [b]) => a.localeCompare(b)).map(([op, n]) => [op, n / count]));
const total = (calls: Record<string, number>) => Object.values(calls).reduce((a, b) => a + b, 0);

export function figuresOf(sum: KindSum, cpu?: { cpuMs: number; logBytes: number; samples: number }, latencyFrom?: KindSum): KindFigures {
  const latencies = [...(latencyFrom && latencyFrom.latencies.length ? latencyFrom.latencies : sum.latencies)].sort((a, b) => a - b);
  const calls = sum.measured + sum.estimated;
  return {
    kind: sum.kind,
    routes: [...sum.routes],
    count: sum.count,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    dynamoPerRequest: total(sum.dynamoCalls) / sum.count,
    dynamoByOp: perRequest(sum.dynamoCalls, sum.count),
    readUnits: sum.readUnits / sum.count,
    writeUnits: sum.writeUnits / sum.count,
    units: calls === 0 ? 'none' : sum.estimated === 0 ? 'measured' : sum.measured === 0 ? 'estimated' : 'mixed',
    s3PerRequest: total(sum.s3Calls) / sum.count,
    s3ByOp: perRequest(sum.s3Calls, sum.count),
    cpuMs: cpu?.cpuMs ?? null,
    logBytes: cpu?.logBytes ?? null,
    cpuSamples: cpu?.samples ?? 0,
  };
}
