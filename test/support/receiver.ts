// Test helper: a real HTTP receiver on loopback that records what it is sent and answers as the
// test says (a status per request, a hang, a redirect). What notifications are delivered to.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status it was answered with (null: left hanging). */
  status: number | null;
}

/** What the receiver does with the n-th request (0-based): a status, `hang`, or a full answer. */
export type Behaviour = (n: number, request: Omit<Received, 'status'>, response: ServerResponse) => number | 'hang' | 'handled';

export async function startReceiver(behaviour: Behaviour = () => 200) {
  const received: Received[] = [];
  const hanging = new Set<ServerResponse>();
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const answer = behaviour(received.length, request, res);
      const record: Received = { ...request, status: typeof answer === 'number' ? answer : answer === 'handled' ? res.statusCode : null };
      received.push(record);
      if (answer === 'hang') hanging.add(res);
      else if (typeof answer === 'number') res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'no');
      for (const wake of waiters.splice(0)) wake();
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', () => ready()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    /** Resolves once `count` requests have arrived (or fails after `ms`). */
    async waitFor(count: number, ms = 10_000): Promise<Received[]> {
      const deadline = Date.now() + ms;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`the receiver got ${received.length} requests, not ${count}, within ${ms} ms`);
        await new Promise<void>((wake) => {
          waiters.push(wake);
          setTimeout(wake, 50);
        });
      }
      return received;
    },
    async stop() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
