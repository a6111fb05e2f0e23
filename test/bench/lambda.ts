// `npm run bench:lambda`: the Lambda bundle with the AWS SDK bundled in it and with the SDK left to
// the runtime ("external"), each built fresh (scripts/build.ts) and run as the nodejs24.x runtime
// runs it: AWS's Runtime Interface Emulator with the Runtime Interface Client on Node 24
// (test/lambda/emulator.ts), storage and the signing-keys SecureString on moto's server. Prints,
// per mode and as external ÷ bundled from the same run:
//   - the bundle's size, raw and gzipped;
//   - the cold start: the emulator's INIT REPORT (runtime start and the handler module's import),
//     and the first invoke after it (the SSM read of the signing keys and the app's build, which
//     functions/lambda.ts does lazily), median of BENCH_COLD_STARTS fresh emulators (default 5);
//   - warm invokes (the REPORT line's Duration): GET /healthz, and an authenticated read
//     (GET /v1/apps/web, a DynamoDB read on moto), p50 and p99 of BENCH_WARM each (default 200);
//   - the runtime process's peak RSS (the emulator's "Max Memory Used" is the configured size).
// Not a test: no assertions, figures only. Absolute times are this machine's (a whole core, where
// a 512 MB function gets about a third of a vCPU); the ratios are what carries over.
//
// "External" here resolves the SDK as nodejs24.x does from /var/runtime/node_modules: the task
// root gets a node_modules symlink to this repository's node_modules (the same SDK v3 packages,
// unbundled), so Node loads them file by file as the runtime would.
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildLambda, type SdkMode } from '../../scripts/build.ts';
import { deployOnMoto, type Deployment } from '../lambda/deployment.ts';
import { asHttpResponse, functionUrlEvent, startEmulator, type Emulator, type FunctionUrlRequest, type FunctionUrlResult } from '../lambda/emulator.ts';
import { BenchError, motoBinary, startMoto, type Moto } from './fleet/processes.ts';
import { table } from './fleet/format.ts';

const ROOT = resolve(import.meta.dirname, '../..');

const count = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value <= 0) throw new BenchError(`${name} must be a positive whole number, not ${process.env[name]}`);
  return value;
};

interface ModeFigures {
  mode: SdkMode;
  bytes: number;
  gzipBytes: number;
  initMs: number[];
  firstInvokeMs: number[];
  healthzMs: number[];
  readMs: number[];
  peakRssMb?: number;
}

const quantile = (values: number[], q: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
};
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function call(emulator: Emulator, request: FunctionUrlRequest, expected: number | number[]) {
  const { payload, report, functionError } = await emulator.invoke<FunctionUrlResult>(functionUrlEvent(request));
  if (functionError) throw new BenchError(`${request.method} ${request.path} failed in the function: ${functionError.errorMessage}`);
  const response = asHttpResponse(payload);
  if (![expected].flat().includes(response.status)) throw new BenchError(`${request.method} ${request.path} answered ${response.status}, not ${expected}: ${response.text.slice(0, 200)}`);
  return report;
}

interface Mode {
  figures: ModeFigures;
  taskRoot: string;
}

async function prepare(mode: SdkMode, dir: string): Promise<Mode> {
  const taskRoot = join(dir, mode, 'task');
  const built = await buildLambda(taskRoot, mode);
  if (mode === 'external') await symlink(join(ROOT, 'node_modules'), join(taskRoot, 'node_modules'), 'dir');
  const gzipBytes = gzipSync(await readFile(built.file), { level: 9 }).length;
  return { taskRoot, figures: { mode, bytes: built.bytes, gzipBytes, initMs: [], firstInvokeMs: [], healthzMs: [], readMs: [] } };
}

/** One fresh execution environment: its cold start, and (when `warm` > 0) warm invokes after it. */
async function environment(mode: Mode, deployment: Deployment, token: string, warm: number) {
  const healthz: FunctionUrlRequest = { method: 'GET', path: '/healthz' };
  const read: FunctionUrlRequest = { method: 'GET', path: '/v1/apps/web', headers: { authorization: `Bearer ${token}` } };
  const { figures } = mode;
  const emulator = await startEmulator({ taskRoot: mode.taskRoot, environment: deployment.environment });
  try {
    const first = await call(emulator, healthz, 200);
    const init = emulator.initDurations()[0];
    if (init === undefined) throw new BenchError('the emulator printed no INIT REPORT for the cold start');
    if (warm === 0) {
      figures.initMs.push(init);
      // The emulator's first REPORT covers the init too (it starts the runtime at the first invoke).
      figures.firstInvokeMs.push(first.durationMs - init);
      return;
    }
    for (let i = 0; i < 20; i++) await call(emulator, i % 2 ? healthz : read, 200);
    // Alternating kinds, so a change in the machine's load affects both alike.
    for (let i = 0; i < warm; i++) {
      figures.healthzMs.push((await call(emulator, healthz, 200)).durationMs);
      figures.readMs.push((await call(emulator, read, 200)).durationMs);
    }
    figures.peakRssMb = emulator.runtimePeakRssMb();
  } finally {
    await emulator.stop();
  }
}

async function measure(dir: string, deployment: Deployment, options: { coldStarts: number; warm: number }): Promise<ModeFigures[]> {
  const modes = [await prepare('bundled', dir), await prepare('external', dir)];
  const token = await deployment.adminToken();
  // The app the authenticated read reads.
  const seed = await startEmulator({ taskRoot: modes[0]!.taskRoot, environment: deployment.environment });
  try {
    await call(seed, { method: 'PUT', path: '/v1/apps/web', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ repository: 'registry.example.com/team/web' }) }, [200, 201]);
  } finally {
    await seed.stop();
  }
  // The modes take turns, cold start by cold start, so the machine's load weighs on both alike.
  for (let run = 1; run <= options.coldStarts; run++) {
    for (const mode of run % 2 ? modes : [...modes].reverse()) await environment(mode, deployment, token, 0);
  }
  console.log('   cold starts done; warm invokes…');
  // A fresh environment per mode for the warm invokes (its own cold start is not counted above).
  for (const mode of modes) await environment(mode, deployment, token, options.warm);
  return modes.map((mode) => mode.figures);
}

function report(all: ModeFigures[], options: { coldStarts: number; warm: number }) {
  const [bundled, external] = all as [ModeFigures, ModeFigures];
  const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : 'n/a');
  const rows: [string, (f: ModeFigures) => number, (v: number) => string][] = [
    ['bundle (bytes)', (f) => f.bytes, (v) => String(v)],
    ['bundle gzip -9 (bytes)', (f) => f.gzipBytes, (v) => String(v)],
    [`init, INIT REPORT (ms, median of ${options.coldStarts})`, (f) => median(f.initMs), ms],
    [`first invoke after init (ms, median of ${options.coldStarts})`, (f) => median(f.firstInvokeMs), ms],
    ['cold start = init + first invoke (ms)', (f) => median(f.initMs) + median(f.firstInvokeMs), ms],
    [`warm GET /healthz p50 (ms, ${options.warm})`, (f) => quantile(f.healthzMs, 0.5), ms],
    [`warm GET /healthz p99 (ms)`, (f) => quantile(f.healthzMs, 0.99), ms],
    [`warm authenticated read p50 (ms, ${options.warm})`, (f) => quantile(f.readMs, 0.5), ms],
    [`warm authenticated read p99 (ms)`, (f) => quantile(f.readMs, 0.99), ms],
    ['runtime peak RSS (MiB)', (f) => f.peakRssMb ?? NaN, (v) => (Number.isFinite(v) ? v.toFixed(0) : 'n/a')],
  ];
  const lines = table(
    ['', 'bundled', 'external', 'external ÷ bundled', ''],
    rows.map(([label, of, format]) => {
      const a = of(bundled);
      const b = of(external);
      return [label, format(a), format(b), Number.isFinite(a) && Number.isFinite(b) && a > 0 ? (b / a).toFixed(2) : 'n/a', ''];
    }),
  );
  console.log('');
  console.log("Lambda bundle, AWS SDK bundled vs external (the runtime's), in aws-lambda-rie + aws-lambda-ric on Node 24, storage on moto");
  for (const line of lines) console.log(line);
  console.log('');
  console.log(`   init samples (ms): bundled ${bundled.initMs.map(ms).join(', ')}; external ${external.initMs.map(ms).join(', ')}`);
  console.log('   Durations are the emulator\'s REPORT/INIT REPORT figures on this machine; a 512 MB function has about a third of a vCPU, so expect');
  console.log('   init and CPU-bound work to take longer there. The emulator reports Max Memory Used as the memory size, so memory is the runtime\'s VmHWM.');
}

async function main() {
  const options = { coldStarts: count('BENCH_COLD_STARTS', 5), warm: count('BENCH_WARM', 200) };
  const binary = motoBinary();
  if (!binary) throw new BenchError("moto's server is not in the test environment's cache; run `bash test/env/setup` once");
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-lambda-'));
  let moto: Moto | undefined;
  let deployment: Deployment | undefined;
  const stopAll = async () => {
    await deployment?.cleanup().catch(() => undefined);
    await moto?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stopAll().finally(() => process.exit(130)));
  try {
    moto = await startMoto(binary);
    deployment = await deployOnMoto({ endpoint: moto.endpoint, region: 'us-east-1', accessKeyId: 'testing', secretAccessKey: 'testing' }, `bench-${process.pid}`);
    console.log(`bench:lambda: building both bundles; ${options.coldStarts} cold starts each, then ${options.warm} warm invokes of each kind`);
    report(await measure(dir, deployment, options), options);
  } finally {
    await stopAll();
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench:lambda: ${(error as Error).message.split('\n')[0]}`);
  process.exitCode = 1;
}
