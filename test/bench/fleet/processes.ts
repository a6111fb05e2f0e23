// The processes of `npm run bench:fleet`: the control-plane child (test/bench/fleet-server.ts, run
// with tsx) and moto's server from the test environment's cache (test/env/harness.ts's binary).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { envBinDir } from '../../env/harness.ts';
import { sleep } from '../../../lib/sleep.ts';
import type { Endpoints } from '../../../functions/clients.ts';
import type { ChildMessage, ClockFigures, ParentMessage, ServerRecord } from './protocol.ts';

export class BenchError extends Error {}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

export interface Moto {
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

/** moto's server (`moto_server` built by `npm run env:setup`); null when it is not there. */
export function motoBinary(): string | null {
  const file = `${envBinDir()}/moto_server`;
  try {
    accessSync(file, constants.X_OK);
    return file;
  } catch {
    return null;
  }
}

export async function startMoto(binary: string): Promise<Moto> {
  const port = await freePort();
  const child = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
  });
  child.unref();
  let exited = false;
  child.once('exit', () => (exited = true));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new BenchError(`moto's server (${binary}) exited at start`);
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new BenchError(`moto's server did not answer on ${endpoint} within 60 s`);
    await sleep(200);
  }
  return {
    endpoint,
    pid: child.pid!,
    async stop() {
      if (exited) return;
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        return;
      }
      for (let i = 0; i < 50 && !exited; i++) await sleep(100);
      if (!exited) process.kill(-child.pid!, 'SIGKILL');
    },
  };
}

/** dynalite and s3rver in a process of their own (test/bench/fleet/storage-child.ts). */
export async function startStorageChild(): Promise<{ endpoints: Endpoints; pid: number; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./storage-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let tail = '';
  child.stderr!.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-1000)));
  const endpoints = await new Promise<Endpoints>((resolve, reject) => {
    child.once('message', (message: { type: string; endpoints: Endpoints }) => resolve(message.endpoints));
    child.once('exit', (code) => reject(new BenchError(`the storage child exited (${code}) before it was ready: ${tail.trim().split('\n').pop() ?? ''}`)));
  });
  return {
    endpoints,
    pid: child.pid!,
    async stop() {
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.disconnect();
      if (await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)])) child.kill('SIGKILL');
    },
  };
}

export interface ServerChild {
  url: string;
  adminToken: string;
  pid: number;
  /** Bytes the child wrote to stdout and stderr so far. */
  logBytes(): number;
  /** Server CPU (user + system) in ms so far; also flushes the child's pending records first. */
  cpuMs(): Promise<{ ms: number; rss: number }>;
  setHeartbeat(seconds: number): Promise<void>;
  /** Resolves when every record sent before this call has arrived. */
  flush(): Promise<void>;
  clock(): Promise<ClockFigures>;
  stop(): Promise<void>;
}

export async function startServerChild(options: { storage: 'embedded' | 'moto'; motoEndpoint?: string; endpoints?: Endpoints; heartbeatSeconds: number; onRecords: (records: ServerRecord[]) => void }): Promise<ServerChild> {
  const script = fileURLToPath(new URL('../fleet-server.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: {
      ...process.env,
      BENCH_STORAGE: options.storage,
      BENCH_MOTO_ENDPOINT: options.motoEndpoint ?? '',
      BENCH_ENDPOINTS: options.endpoints ? JSON.stringify(options.endpoints) : '',
      BENCH_HEARTBEAT: String(options.heartbeatSeconds),
    },
  });
  let logBytes = 0;
  let tail = '';
  const count = (chunk: Buffer) => {
    logBytes += chunk.length;
    tail = (tail + chunk.toString()).slice(-2000);
  };
  child.stdout!.on('data', count);
  child.stderr!.on('data', count);
  let nextId = 0;
  const waiting = new Map<number, (message: ChildMessage) => void>();
  let exitCode: number | null | undefined;
  const ready = new Promise<Extract<ChildMessage, { type: 'ready' }>>((resolve, reject) => {
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'records') options.onRecords(message.records);
      else waiting.get(message.id)?.(message);
    });
    child.once('exit', (code) => {
      exitCode = code;
      const last = tail.trim().split('\n').filter(Boolean).pop() ?? '';
      reject(new BenchError(`the control-plane child exited (${code}) before it was ready${last ? `: ${last.slice(0, 300)}` : ''}`));
      for (const done of waiting.values()) done({ type: 'ack', id: -1 });
    });
  });
  const ask = <T extends ChildMessage>(message: Omit<ParentMessage, 'id'>): Promise<T> => {
    if (exitCode !== undefined) return Promise.reject(new BenchError('the control-plane child has exited'));
    const id = ++nextId;
    return new Promise<T>((resolve) => {
      waiting.set(id, (answer) => {
        waiting.delete(id);
        resolve(answer as T);
      });
      child.send({ ...message, id } as ParentMessage);
    });
  };
  const { url, adminToken } = await Promise.race([
    ready,
    sleep(120_000).then(() => {
      throw new BenchError('the control-plane child did not start within 120 s');
    }),
  ]);
  return {
    url,
    adminToken,
    pid: child.pid!,
    logBytes: () => logBytes,
    async cpuMs() {
      const answer = await ask<Extract<ChildMessage, { type: 'cpu' }>>({ type: 'cpu' });
      return { ms: (answer.userMicros + answer.systemMicros) / 1000, rss: answer.rss };
    },
    async setHeartbeat(seconds: number) {
      await ask({ type: 'heartbeat', seconds } as Omit<ParentMessage, 'id'>);
    },
    async flush() {
      await ask({ type: 'flush' });
    },
    async clock() {
      return (await ask<Extract<ChildMessage, { type: 'clock' }>>({ type: 'clock' })).clock;
    },
    async stop() {
      if (exitCode !== undefined) return;
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      child.send({ type: 'stop', id: ++nextId } satisfies ParentMessage);
      const timedOut = await Promise.race([exited.then(() => false), sleep(15_000).then(() => true)]);
      if (timedOut) child.kill('SIGKILL');
    },
  };
}
