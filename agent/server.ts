// The agent's HTTP endpoints: /metrics for Prometheus and /healthz for the kubelet's probes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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

  function handleOpsRequest(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { Allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      serveMetrics(response, options.metrics);
    } else if (path === '/healthz') {
      serveHealth(response, healthProblem(options.health, startedAt, options.maxLoopAgeMs));
    } else {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
    }
  }

  const server = createServer(handleOpsRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${options.host ?? '127.0.0.1'}:${port}` };
}

function serveMetrics(response: ServerResponse, metrics: Metrics): void {
  response.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
}

/** Why /healthz fails, or null when the agent is healthy. */
function healthProblem({ fatalError, lastLoopAt }: HealthSource, startedAt: number, maxLoopAgeMs: number): string | null {
  if (fatalError) return fatalError.message;
  const since = lastLoopAt || startedAt;
  if (Date.now() - since > maxLoopAgeMs) return `no loop iteration finished for ${Math.round((Date.now() - since) / 1000)}s`;
  return null;
}

function serveHealth(response: ServerResponse, problem: string | null): void {
  response
    .writeHead(problem ? 503 : 200, { 'Content-Type': 'application/json' })
    .end(JSON.stringify(problem ? { status: 'failing', reason: problem } : { status: 'ok' }));
}
