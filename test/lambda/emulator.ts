// The AWS Lambda Runtime Interface Emulator (aws-lambda-rie) running the AWS Lambda runtime
// interface client (aws-lambda-ric) on Node 24 over a task root, as the nodejs24.x runtime runs
// a deployed function: both from the test environment's cache (`bash test/env/setup`). Used by
// test/lambda/runtime.test.ts and `npm run bench:lambda`.
//
// The emulator starts the runtime lazily: the first invoke is the cold start (its INIT REPORT),
// later ones are warm. Invokes are serial, as one Lambda execution environment takes them.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { envBinDir, envCacheDir, freePort } from '../env/harness.ts';
import { sleep } from '../../lib/sleep.ts';

/** One `REPORT RequestId: …` line of the emulator. */
export interface InvokeReport {
  requestId: string;
  durationMs: number;
  billedMs: number;
  /** The configured memory size (AWS_LAMBDA_FUNCTION_MEMORY_SIZE). */
  memorySizeMb: number;
  /** What the emulator prints as "Max Memory Used": it reports the memory size, not a measurement. */
  maxMemoryUsedMb: number;
}

export interface EmulatorOptions {
  /** The directory holding the bundle (index.mjs), as /var/task holds a deployed function's code. */
  taskRoot: string;
  /** `file.export`; default index.handler. */
  handler?: string;
  /** The function's environment (what infra/ configures), on top of what Lambda itself sets. */
  environment: Record<string, string>;
  /** Megabytes, as the function is configured (infra/control-plane.ts: 512). */
  memoryMb?: number;
  timeoutSeconds?: number;
}

export interface Emulator {
  /** http://127.0.0.1:PORT */
  url: string;
  /**
   * The payload the handler returned (parsed JSON) and the REPORT line of this invoke; when the
   * handler threw, `functionError` is what the runtime reported instead (the payload is that too).
   */
  invoke<T = unknown>(event: unknown): Promise<{ payload: T; report: InvokeReport; functionError?: FunctionError }>;
  /** Init durations (ms) from the emulator's INIT REPORT lines, one per cold start. */
  initDurations(): number[];
  reports(): InvokeReport[];
  /** Peak resident memory (VmHWM) of the runtime's Node process so far, in MiB; undefined before it starts. */
  runtimePeakRssMb(): number | undefined;
  /** Everything the emulator and the function printed. */
  log(): string;
  /** Stops the emulator and the runtime (its process group) and frees the port. Idempotent. */
  stop(): Promise<void>;
}

/** What the runtime interface client returns for a handler that threw or rejected. */
export interface FunctionError {
  errorType: string;
  errorMessage: string;
}

/** The emulator answers a function error with 200 like a result; the payload's shape tells them apart. */
export function asFunctionError(payload: unknown): FunctionError | undefined {
  if (payload === null || typeof payload !== 'object' || 'statusCode' in payload) return undefined;
  const { errorType, errorMessage } = payload as Partial<FunctionError>;
  return typeof errorType === 'string' && typeof errorMessage === 'string' ? { errorType, errorMessage } : undefined;
}

export class EmulatorError extends Error {
  override readonly name = 'EmulatorError';
}

/** The binaries, or one sentence naming what is missing. */
export function emulatorBinaries(): { rie: string; ric: string; node: string } {
  const files = {
    rie: path.join(envBinDir(), 'aws-lambda-rie'),
    ric: path.join(envCacheDir(), 'share', 'aws-lambda-ric', 'index.mjs'),
    node: path.join(envBinDir(), 'node24'),
  };
  const missing = Object.values(files).filter((file) => {
    try {
      accessSync(file, file.endsWith('.mjs') ? constants.R_OK : constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new EmulatorError(`The Lambda runtime emulator is not set up (missing ${missing.join(', ')}); run \`bash test/env/setup\` once to install it.`);
  }
  return files;
}

const REPORT = /^REPORT RequestId: (\S+)\s+(?:Init Duration: [\d.]+ ms\s+)?Duration: ([\d.]+) ms\s+Billed Duration: ([\d.]+) ms\s+Memory Size: (\d+) MB\s+Max Memory Used: (\d+) MB/;
const INIT_REPORT = /INIT REPORT\(durationMs: ([\d.]+)\)/;

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The Node process the emulator started (its child), read from /proc: any of its threads may have forked it. */
function runtimePid(emulatorPid: number): number | undefined {
  try {
    const children = readdirSync(`/proc/${emulatorPid}/task`).flatMap((task) => {
      try {
        return readFileSync(`/proc/${emulatorPid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      } catch {
        return [];
      }
    });
    return children.map(Number).find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('aws-lambda-ric');
      } catch {
        return false;
      }
    });
  } catch {
    return undefined;
  }
}

/**
 * Starts the emulator on free loopback ports (its invoke endpoint and the Runtime API it serves
 * the runtime on). The environment is Lambda's own (region, credentials, memory, task root) plus
 * `options.environment`; nothing of this process's environment leaks in but PATH.
 */
export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const bin = emulatorBinaries();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bin, options);
    } catch (error) {
      // Another process may take a free port between freePort() and the bind; try fresh ones.
      if (attempt < 3 && error instanceof EmulatorError && /address already in use/.test(error.message)) continue;
      throw error;
    }
  }
}

async function startOnce(bin: { rie: string; ric: string; node: string }, options: EmulatorOptions): Promise<Emulator> {
  const [port, runtimePort] = [await freePort(), await freePort()];
  const memoryMb = options.memoryMb ?? 512;
  const environment: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    LAMBDA_TASK_ROOT: options.taskRoot,
    AWS_LAMBDA_FUNCTION_NAME: 'flotilla-api',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(options.timeoutSeconds ?? 20),
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    ...options.environment,
  };
  const child: ChildProcess = spawn(
    bin.rie,
    [
      '--log-level',
      'info',
      '--runtime-interface-emulator-address',
      `127.0.0.1:${port}`,
      '--runtime-api-address',
      `127.0.0.1:${runtimePort}`,
      bin.node,
      bin.ric,
      options.handler ?? 'index.handler',
    ],
    // Its own process group, so stop() reaches the runtime it forks too.
    { cwd: options.taskRoot, env: environment, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let partial = '';
  const reports: InvokeReport[] = [];
  const inits: number[] = [];
  const waiters: (() => void)[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const init = INIT_REPORT.exec(line);
      if (init) inits.push(Number(init[1]));
      const report = REPORT.exec(line);
      if (report) {
        reports.push({
          requestId: report[1]!,
          durationMs: Number(report[2]),
          billedMs: Number(report[3]),
          memorySizeMb: Number(report[4]),
          maxMemoryUsedMb: Number(report[5]),
        });
        for (const wake of waiters.splice(0)) wake();
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      for (const wake of waiters.splice(0)) wake();
      resolve();
    });
    child.once('error', (error) => {
      exited = true;
      output += `\nspawn failed: ${error.message}\n`;
      resolve();
    });
  });
  const onProcessExit = () => {
    try {
      if (!exited && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', onProcessExit);

  const stop = async () => {
    process.off('exit', onProcessExit);
    if (exited || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    if (await Promise.race([exit.then(() => false), sleep(3_000).then(() => true)])) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      await exit;
    }
  };
  const lastLine = () => output.trim().split('\n').filter(Boolean).pop() ?? '(no output)';

  const deadline = Date.now() + 10_000;
  while (!(await listening(port))) {
    if (exited) {
      await stop();
      throw new EmulatorError(`aws-lambda-rie exited at start: ${lastLine()}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new EmulatorError(`aws-lambda-rie did not listen on 127.0.0.1:${port} within 10 s: ${lastLine()}`);
    }
    await sleep(20);
  }

  const url = `http://127.0.0.1:${port}`;
  let queue: Promise<unknown> = Promise.resolve();
  const invokeNow = async <T>(event: unknown): Promise<{ payload: T; report: InvokeReport; functionError?: FunctionError }> => {
    const seen = reports.length;
    const res = await fetch(`${url}/2015-03-31/functions/function/invocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(((options.timeoutSeconds ?? 20) + 10) * 1000),
    });
    const text = await res.text();
    if (!res.ok) throw new EmulatorError(`the emulator answered the invoke with ${res.status}: ${text.slice(0, 300)}`);
    // The REPORT line may follow the response by a moment.
    const reportDeadline = Date.now() + 5_000;
    while (reports.length <= seen) {
      if (exited) throw new EmulatorError(`aws-lambda-rie exited during an invoke: ${lastLine()}`);
      if (Date.now() > reportDeadline) throw new EmulatorError(`no REPORT line from the emulator within 5 s of an invoke: ${lastLine()}`);
      await Promise.race([new Promise<void>((wake) => waiters.push(wake)), sleep(100)]);
    }
    let payload: T;
    try {
      payload = JSON.parse(text) as T;
    } catch {
      throw new EmulatorError(`the invoke's payload is not JSON: ${text.slice(0, 300)}`);
    }
    return { payload, report: reports[seen]!, functionError: asFunctionError(payload) };
  };

  return {
    url,
    invoke<T>(event: unknown) {
      const result = queue.then(() => invokeNow<T>(event));
      queue = result.catch(() => undefined);
      return result;
    },
    initDurations: () => [...inits],
    reports: () => [...reports],
    runtimePeakRssMb() {
      const pid = child.pid === undefined ? undefined : runtimePid(child.pid);
      if (pid === undefined) return undefined;
      try {
        const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        return kb === undefined ? undefined : Number(kb) / 1024;
      } catch {
        return undefined;
      }
    },
    log: () => output,
    stop,
  };
}

// ---- Function URL events (payload format 2.0) ------------------------------------------------

export interface FunctionUrlRequest {
  method: string;
  /** Path with an optional query string, e.g. /v1/agent/desired-state?heartbeat=1 */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Send the body base64-encoded, as a Function URL does with a body it takes for binary. */
  base64?: boolean;
  cookies?: string[];
  sourceIp?: string;
}

/** What the handler returns for a Function URL (the structured response format). */
export interface FunctionUrlResult {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

export const FUNCTION_URL_DOMAIN = 'abcdefghijklmnopqrstuvwxyz012345.lambda-url.eu-west-1.on.aws';

/** The event a Function URL sends for one HTTP request (payload format version 2.0). */
export function functionUrlEvent(request: FunctionUrlRequest, now = new Date()) {
  const [rawPath, rawQueryString = ''] = request.path.split(/\?(.*)/s, 2) as [string, string?];
  const bytes = request.body === undefined ? undefined : typeof request.body === 'string' ? Buffer.from(request.body) : Buffer.from(request.body);
  const headers: Record<string, string> = {
    host: FUNCTION_URL_DOMAIN,
    'user-agent': 'flotilla-test',
    'x-amzn-trace-id': `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-000000000000000000000000`,
    'x-forwarded-for': request.sourceIp ?? '203.0.113.7',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
    ...Object.fromEntries(Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value])),
  };
  if (bytes !== undefined) headers['content-length'] = String(bytes.length);
  const queryStringParameters = rawQueryString ? Object.fromEntries(new URLSearchParams(rawQueryString)) : undefined;
  const method = request.method.toUpperCase();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    ...(request.cookies ? { cookies: request.cookies } : {}),
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    requestContext: {
      accountId: 'anonymous',
      apiId: FUNCTION_URL_DOMAIN.split('.')[0],
      domainName: FUNCTION_URL_DOMAIN,
      domainPrefix: FUNCTION_URL_DOMAIN.split('.')[0],
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: request.sourceIp ?? '203.0.113.7', userAgent: headers['user-agent'] },
      requestId: crypto.randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(bytes === undefined ? {} : { body: request.base64 ? bytes.toString('base64') : bytes.toString('utf8') }),
    isBase64Encoded: bytes !== undefined && request.base64 === true,
  };
}

/** What a client of the Function URL sees of a handler's result: status, headers (lower-case) and body. */
export function asHttpResponse(result: FunctionUrlResult | string | null) {
  // A function error is a 502 (its details go to the function's log, not to the client).
  if (asFunctionError(result)) {
    return { status: 502, headers: new Headers({ 'content-type': 'application/json' }), text: '{"Message":"Internal Server Error"}', cookies: [] as string[] };
  }
  // A result that is not the structured format is sent as a 200 with the result as JSON.
  if (result === null || typeof result !== 'object' || typeof result.statusCode !== 'number') {
    return { status: 200, headers: new Headers({ 'content-type': 'application/json' }), text: JSON.stringify(result), cookies: [] as string[] };
  }
  const headers = new Headers(result.headers ?? {});
  const body = result.body ?? '';
  const text = result.isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
  return { status: result.statusCode, headers, text, cookies: result.cookies ?? [] };
}
