// `npm run bench:fleet`: a fleet simulator that measures what agents checking in cost the control
// plane, and a cost model from the measured figures. Prints, per storage backend (the embedded
// default, dynalite + s3rver, and moto's server), per request kind: count, client-side p50/p99
// latency, DynamoDB requests per request (and by operation), read and write capacity units per
// request (measured from DynamoDB's ConsumedCapacity or estimated from item sizes: said per row),
// S3 requests per request, log bytes and server CPU ms per request; the totals of the steady phase;
// the clock's own usage; then the cost model (test/bench/cost.ts): CPU from moto's run, capacity
// units from the embedded run (see figuresForCost), saved to .bench/fleet.json. Not a test: it asserts nothing, it prints figures.
//
// How it measures:
// - The control plane runs in a child process (test/bench/fleet-server.ts), the agents here, so
//   the server's CPU is its own. The child streams every request's usage record (functions/usage.ts)
//   with the request id this process sent, so latency and usage are joined per request.
// - CPU per kind comes from isolated windows after the steady phase: only that kind in flight (4 at
//   a time), the child's process.cpuUsage() before and after, less the idle rate measured before
//   (the clock, timers), divided by the requests. With the embedded storage the child also runs
//   dynalite and s3rver, so its CPU includes the storage servers' work; with moto the storage runs
//   in moto's own process and the child's CPU is the control plane's alone (what the Lambda pays).
// - Log bytes: what the child wrote to stdout and stderr during the same windows.
// - The heartbeat period is scaled down (BENCH_HEARTBEAT) so heartbeats happen within the run; the
//   check-ins and reports that wrote a heartbeat are their own kinds (`+ heartbeat`, `+ lastSeen`),
//   told apart by the writes the server made. The windows set the period to 0 or to "never" to
//   measure each variant alone.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { costReport, deploymentAssumptions, figuresForCost } from './cost.ts';
import { BenchError, motoBinary, startMoto, startStorageChild, type Moto } from './fleet/processes.ts';
import { runFleet, type RunFigures } from './fleet/run.ts';
import type { KindFigures } from './fleet/stats.ts';
import { table } from './fleet/format.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new BenchError(`${name} must be a positive number, not ${process.env[name]}`);
  return value;
};

const FIGURES_FILE = join('.bench', 'fleet.json');

async function main() {
  const clusters = Math.floor(num('BENCH_CLUSTERS', 10_000));
  const options = {
    clusters,
    apps: Math.floor(num('BENCH_APPS', 20)),
    seconds: num('BENCH_SECONDS', 60),
    rate: num('BENCH_RATE', 80),
    concurrency: Math.floor(num('BENCH_CONCURRENCY', 8)),
    heartbeatSeconds: num('BENCH_HEARTBEAT', 20),
    driftChance: Number(process.env.BENCH_DRIFT ?? 0.01),
    windowSeconds: num('BENCH_WINDOW_SECONDS', 8),
    verbose: process.env.BENCH_VERBOSE === '1',
  };
  // moto's server is one Python process whose requests cost tens of ms each on this machine (its
  // queries and scans walk the table), so its fleet is smaller by default: the per-request
  // figures of agents depend on item sizes, not on the fleet's size (a fleet read and a cluster
  // page do; the cost model scales the fleet read with the fleet).
  const motoClusters = Math.floor(num('BENCH_MOTO_CLUSTERS', Math.min(clusters, 200)));
  const storage = process.env.BENCH_STORAGE ?? 'both';
  if (!['embedded', 'moto', 'both'].includes(storage)) throw new BenchError(`BENCH_STORAGE must be embedded, moto or both, not ${storage}`);
  const backends: ('embedded' | 'moto')[] = storage === 'both' ? ['embedded', 'moto'] : [storage as 'embedded' | 'moto'];
  if (backends.includes('moto') && !motoBinary()) {
    console.log("moto's server is not in the test environment's cache (run `npm run env:setup`), so this run measures the embedded storage only.");
    backends.splice(backends.indexOf('moto'), 1);
    if (backends.length === 0) backends.push('embedded');
  }
  const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
  const runs: RunFigures[] = [];
  for (const backend of backends) {
    const run = { ...options, clusters: backend === 'moto' ? motoClusters : options.clusters };
    log(`${backend}: ${run.clusters} clusters, ${run.apps} apps`);
    let moto: Moto | undefined;
    let storageChild: Awaited<ReturnType<typeof startStorageChild>> | undefined;
    try {
      if (backend === 'moto') {
        moto = await startMoto(motoBinary()!);
        const stopMoto = moto;
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stopMoto.stop().finally(() => process.exit(130)));
      }
      // The embedded default's dynalite and s3rver in a process of their own, so the server's CPU is its own.
      if (backend === 'embedded') storageChild = await startStorageChild();
      const figures = await runFleet({ ...run, storage: backend, motoEndpoint: moto?.endpoint, endpoints: storageChild?.endpoints, log });
      runs.push(figures);
      printRun(figures);
    } finally {
      await moto?.stop();
      await storageChild?.stop();
    }
  }
  await mkdir('.bench', { recursive: true });
  // The directory ignores itself, so the figures never need an entry in the root .gitignore.
  await writeFile(join('.bench', '.gitignore'), '*\n');
  await writeFile(FIGURES_FILE, JSON.stringify({ at: new Date().toISOString(), runs }, null, 2));
  console.log(`\nfigures saved to ${FIGURES_FILE} (npm run bench:cost prints the cost model from it again)\n`);
  console.log(costReport(figuresForCost(runs), deploymentAssumptions()));
}

const f = (value: number | null, digits = 2) => (value === null ? '—' : value.toFixed(digits));
const ops = (byOp: Record<string, number>) =>
  Object.entries(byOp)
    .map(([op, n]) => `${op.replace(/Item$/, '').replace(/Command$/, '')} ${Number.isInteger(n) ? n : n.toFixed(2)}`)
    .join(', ') || '—';

function printRun(run: RunFigures) {
  const lines: string[] = [];
  lines.push('');
  lines.push(
    `== ${run.storage === 'moto' ? "moto's server (DynamoDB and S3 in moto's process)" : "embedded default (dynalite + s3rver as npm start runs them, in a process of their own so the server's CPU is its own)"}: ` +
      `${run.clusters} clusters, ${run.apps} apps, steady phase ${run.seconds} s at ${run.rate} agent cycles/s, heartbeat scaled to ${run.heartbeatSeconds} s, Node ${run.node}`,
  );
  lines.push(
    `   setup ${run.setupSeconds.toFixed(0)} s; latency: client-side, from the steady phase at its offered load (queueing included; else the windows, 4 in flight); CPU ms and log bytes per request: isolated windows, one kind in flight, ` +
      `idle rate ${run.idleCpuMsPerSecond.toFixed(1)} ms/s subtracted`,
  );
  lines.push(
    '   units: measured = DynamoDB ConsumedCapacity (TOTAL, indexes included) for every call; estimated = from item sizes (functions/usage.ts), GSI writes not included',
  );
  const header = ['kind', 'n', 'p50 ms', 'p99 ms', 'DDB/req', 'RRU/req', 'WRU/req', 'units', 'S3/req', 'log B/req', 'CPU ms/req', 'DynamoDB by op · S3 by op (per request)'];
  const rows = run.kinds.map((k: KindFigures) => [
    k.kind,
    String(k.count),
    f(k.p50, 1),
    f(k.p99, 1),
    f(k.dynamoPerRequest),
    f(k.readUnits),
    f(k.writeUnits),
    k.units,
    f(k.s3PerRequest),
    f(k.logBytes, 0),
    f(k.cpuMs),
    `${ops(k.dynamoByOp)}${k.s3PerRequest > 0 ? ` · ${ops(k.s3ByOp)}` : ''}`,
  ]);
  lines.push(...table(header, rows));
  const t = run.steady;
  lines.push(
    `   steady phase totals: ${t.requests} requests in ${t.seconds.toFixed(1)} s (${(t.requests / t.seconds).toFixed(0)} req/s); DynamoDB ${t.dynamoCalls} requests, ` +
      `${t.readUnits.toFixed(1)} RRU, ${t.writeUnits.toFixed(1)} WRU; S3 ${t.s3Calls} requests; server CPU ${(t.serverCpuMs / 1000).toFixed(1)} s ` +
      `(${(t.serverCpuMs / t.seconds / 10).toFixed(0)} % of a core); log ${t.logBytes} bytes; server RSS ${(run.serverRssBytes / 2 ** 20).toFixed(0)} MiB`,
  );
  lines.push(`   steady mix: ${Object.entries(t.byKind).sort(([, a], [, b]) => b - a).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const c = run.clock;
  lines.push(
    `   clock (every ${c.seconds} s, measured with measureUsage in the child): ${c.runs} runs, ${c.failures} failed, ${(c.ms / Math.max(1, c.runs)).toFixed(1)} ms wall each, ` +
      `DynamoDB ${ops(Object.fromEntries(Object.entries(c.dynamoCalls).map(([op, n]) => [op, n / Math.max(1, c.runs)])))} per run, ` +
      `${(c.readUnits / Math.max(1, c.runs)).toFixed(2)} RRU and ${(c.writeUnits / Math.max(1, c.runs)).toFixed(2)} WRU per run, S3 ${c.s3Calls}. ` +
      'The usage listener only hears HTTP requests: on AWS the clock is its own Lambda invocation, attributed to no route; the cost model adds it as a fixed monthly cost.',
  );
  if (run.transportErrors > 0) lines.push(`   ${run.transportErrors} requests failed at the transport`);
  console.log(lines.join('\n'));
}

main().catch((err: unknown) => {
  const code = (err as { code?: string })?.code;
  const message =
    err instanceof BenchError
      ? err.message
      : code === 'EADDRINUSE'
        ? `a port the bench needs is in use (${(err as Error).message})`
        : `bench:fleet failed: ${(err as Error)?.message ?? String(err)}`;
  console.error(message.split('\n')[0]);
  process.exit(1);
});
