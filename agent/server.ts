// The agent's HTTP endpoints: /metrics for Prometheus and /healthz for the kubelet's probes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.ts';

export interface HealthSource {
  /** Set once the agent has stopped for good (revoked, bootstrap failed). */
  fatalError: Error | null;
  /** When the last loop iteration finished (ms since epoch; 0 before the first). */
  lastLoopAt: number;
}

export interface OpsServerOptions {
  metrics: Metrics;
  health: HealthSource;
  /** A loop older than this fails /healthz, so a wedged agent is restarted. */
  maxLoopAgeMs: number;
  port: number;
  host?: string;
}

export async function startOpsServer(options: OpsServerOptions): Promise<{ server: Server; url: string }> {
  const startedAt = Date.now();
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      response.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(options.metrics.render());
      return;
    }
    if (path === '/healthz') {
      const { fatalError, lastLoopAt } = options.health;
      const since = lastLoopAt || startedAt;
      const problem = fatalError
        ? fatalError.message
        : Date.now() - since > options.maxLoopAgeMs
          ? `no loop iteration finished for ${Math.round((Date.now() - since) / 1000)}s`
          : null;
      response
        .writeHead(problem ? 503 : 200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify(problem ? { status: 'failing', reason: problem } : { status: 'ok' }));
      return;
    }
    response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${options.host ?? '127.0.0.1'}:${port}` };
}
