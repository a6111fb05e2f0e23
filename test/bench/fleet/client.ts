// HTTP client of the simulated fleet: every request carries X-Bench-Kind (what the simulator meant
// to send) and a unique X-Request-Id, so the child's usage record of it can be joined with the
// latency measured here.
export interface Sent {
  id: string;
  tag: string;
  status: number;
  ms: number;
  phase: string;
}

export interface Response {
  status: number;
  body: string;
  headers: Headers;
}

export class Client {
  private next = 0;
  /** Requests answered, by id, until the server's record for them arrives. */
  readonly sent = new Map<string, Sent>();
  phase = 'setup';
  /** Requests that failed at the transport (connection refused, timeout). */
  transportErrors = 0;

  constructor(
    readonly baseUrl: string,
    readonly adminToken: string,
  ) {}

  async request(tag: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Response> {
    const id = `bench-${++this.next}`;
    const started = performance.now();
    let res: globalThis.Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        body,
        headers: {
          accept: 'application/json',
          'x-bench-kind': tag,
          'x-request-id': id,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        signal: AbortSignal.timeout(120_000),
      });
    } catch (err) {
      this.transportErrors += 1;
      throw new Error(`${method} ${path}: ${(err as Error).message}`);
    }
    const text = await res.text();
    this.sent.set(id, { id, tag, status: res.status, ms: performance.now() - started, phase: this.phase });
    return { status: res.status, body: text, headers: res.headers };
  }

  /** An admin request that must succeed (2xx); returns the parsed body. */
  async admin(tag: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<any> {
    const res = await this.request(tag, method, path, body === undefined ? undefined : JSON.stringify(body), {
      authorization: `Bearer ${this.adminToken}`,
      ...headers,
    });
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body.slice(0, 300)}`);
    return res.body ? JSON.parse(res.body) : undefined;
  }
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` in flight. */
export async function bounded(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}
