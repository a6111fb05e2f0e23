// `npm run bench:notify`: notifications under the embedded default (`npm start`'s storage and its
// in-process dispatcher) against a receiver on loopback. Prints (1) the time from a state change
// (a release published over HTTP) to the receiver getting its signed webhook, p50/p99; (2) how many
// deliveries per second one dispatcher run sustains (fan-out, lease, POST, outcome per delivery).
// Not a test: it asserts nothing, it prints figures.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Event } from '../../lib/api/schemas.ts';
import { startLocalControlPlane } from '../../functions/local-server.ts';
import { newId } from '../../functions/ids.ts';
import { dispatchOnce } from '../../functions/notify/dispatcher.ts';
import { adminCaller } from './admin.ts';

const CHANGES = Number(process.env.BENCH_CHANGES ?? 200);
const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 2000);
const LOOPBACK = { allowCidrs: ['127.0.0.0/8'] };

/** A receiver that answers 204 at once and notes when each webhook-id arrived. */
async function startBenchReceiver() {
  const arrived = new Map<string, number>();
  let waiting: { count: number; done: () => void } | null = null;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrived.set(String(req.headers['webhook-id']), performance.now());
      res.writeHead(204).end();
      if (waiting && arrived.size >= waiting.count) waiting.done();
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', () => ready()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    arrived,
    until: (count: number) => new Promise<void>((done) => (arrived.size >= count ? done() : (waiting = { count, done }))),
    stop: () => new Promise<void>((done) => server.close(() => done())),
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function latency(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-notify-'));
  const receiver = await startBenchReceiver();
  const plane = await startLocalControlPlane({ dataDir: dir, clockSeconds: 0, config: { notify: LOOPBACK } });
  const admin = adminCaller(plane);
  try {
    await admin('POST', '/v1/notifications/subscriptions', { destination: { type: 'webhook', url: receiver.url }, filter: { types: ['release.published'] } });
    await admin('PUT', '/v1/apps/bench', { repository: 'registry.example.com/team/bench' });
    const sent = new Map<string, number>();
    for (let i = 0; i < CHANGES; i++) {
      const started = performance.now();
      const release = await admin('POST', '/v1/apps/bench/releases', { version: `1.0.${i}`, digest: `sha256:${String(i).padStart(64, '0')}` });
      sent.set(release.eventId, started);
      // one change at a time: the figure is a change's own latency, not a queue's
      await receiver.until(i + 1);
    }
    const latencies = [...sent].map(([id, started]) => receiver.arrived.get(id)! - started).sort((a, b) => a - b);
    console.log(`state change → receiver (npm start, in-process dispatcher, ${CHANGES} releases published one at a time over HTTP):`);
    console.log(`  p50 ${percentile(latencies, 50).toFixed(1)} ms   p99 ${percentile(latencies, 99).toFixed(1)} ms   max ${latencies.at(-1)!.toFixed(1)} ms`);
  } finally {
    await plane.stop();
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function throughput(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-notify-'));
  const receiver = await startBenchReceiver();
  // The in-process loop off: one dispatcher run, timed, does all the work.
  const plane = await startLocalControlPlane({ dataDir: dir, clockSeconds: 0, notifyIntervalMs: 0, config: { notify: LOOPBACK } });
  try {
    await adminCaller(plane)('POST', '/v1/notifications/subscriptions', { destination: { type: 'webhook', url: receiver.url }, filter: { types: ['reconcile.failed'] } });
    const now = Date.now();
    const events: Event[] = Array.from({ length: DELIVERIES }, (_, i) => ({
      id: newId(now),
      type: 'reconcile.failed',
      at: new Date(now + i).toISOString(),
      actor: 'agent:bench',
      app: 'bench',
      cluster: `c-${i % 50}`,
      environment: 'prod',
      message: `bench failed on c-${i % 50}`,
      data: { version: '1.0.0', reason: 'ApplyFailed' },
    }));
    await plane.services.storage.events.putMany(events);
    const started = performance.now();
    let runs = 0;
    while (receiver.arrived.size < DELIVERIES) {
      await dispatchOnce(plane.services);
      runs++;
    }
    const seconds = (performance.now() - started) / 1000;
    const concurrency = plane.services.config.notify.concurrency;
    console.log(`one dispatcher (concurrency ${concurrency}) against a local receiver: ${DELIVERIES} events fanned out and delivered in ${seconds.toFixed(2)} s (${runs} runs)`);
    console.log(`  ${(DELIVERIES / seconds).toFixed(0)} deliveries/s (embedded storage: dynalite on disk)`);
  } finally {
    await plane.stop();
    await receiver.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await latency();
await throughput();
