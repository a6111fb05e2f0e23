// A thin REST client for the kube-apiserver over one keep-alive agent. The generated API classes of
// @kubernetes/client-node re-create a TLS agent per call, hide the apiserver's Status on errors and
// cost ~80 MiB just to import; the agent needs a handful of verbs, server-side apply and discovery.
import http from 'node:http';
import https from 'node:https';
import { shedGarbage } from '../memory.ts';
import { inClusterConnection, kubeconfigConnection, type Connection } from './config.ts';

/** A Kubernetes object as JSON; only the fields the agent relies on are typed. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    uid?: string;
    generation?: number;
    deletionTimestamp?: string;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** The apiserver's `Status` for a failed request, kept whole so callers can classify it. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 404;
}

export interface ResourceInfo {
  /** The plural resource name used in URLs, e.g. `deployments`. */
  resource: string;
  namespaced: boolean;
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  /** Statuses that are returned as `null` instead of thrown (e.g. 404 on a lookup). */
  allowStatus?: number[];
  /** Aborts the request (e.g. a watcher's list when it stops). */
  signal?: AbortSignal;
}

const REQUEST_TIMEOUT_MS = 60_000;
/**
 * Parallel keep-alive sockets to the apiserver (Node's HTTP/1.1 has no pipelining), and so the
 * resource manager's default concurrency. bench:agent on 500 objects, before LIST pages and
 * agent/memory.ts: the re-check took 2.3–2.8 s at 10, 1.4–1.9 s at 16, no better at 32 (the
 * apiserver is then the limit) but ~5 MiB more memory. With them, 12 peaks at 63.5 MiB and 16 at 64
 * (README, "Agent memory").
 */
export const MAX_SOCKETS = 12;

export class KubeClient {
  private agent: http.Agent;
  /** The client certificate the current agent presents, when it comes from an exec plugin. */
  private agentCertificate = '';
  /** Agents replaced after a certificate rotation, closed once their requests are done. */
  private readonly retired = new Set<http.Agent>();
  private readonly server: URL;
  /** Discovery cache: group-version → kind → resource. */
  private readonly discovery = new Map<string, Map<string, ResourceInfo>>();

  constructor(private readonly connection: Connection) {
    this.server = connection.server;
    this.agent = this.newAgent();
  }

  private newAgent(certificate?: { cert: string; key: string }): http.Agent {
    const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS };
    return this.server.protocol === 'https:'
      ? new https.Agent({ ...this.connection.tls, ...certificate, ...agentOptions })
      : new http.Agent(agentOptions);
  }

  /** The keep-alive agent; a rotated exec client certificate gets a new one (TLS options are per agent). */
  private agentFor(certificate: { cert: string; key: string } | undefined): http.Agent {
    const fingerprint = certificate ? certificate.cert + certificate.key : '';
    if (fingerprint !== this.agentCertificate) {
      const old = this.agent;
      this.retired.add(old);
      // In-flight requests on the old agent finish; its sockets close after the request timeout.
      setTimeout(() => {
        old.destroy();
        this.retired.delete(old);
      }, REQUEST_TIMEOUT_MS).unref();
      this.agent = this.newAgent(certificate);
      this.agentCertificate = fingerprint;
    }
    return this.agent;
  }

  /** From a kubeconfig file, or the in-cluster service account when `kubeconfigPath` is undefined. */
  static async create(kubeconfigPath?: string): Promise<KubeClient> {
    return new KubeClient(kubeconfigPath ? await kubeconfigConnection(kubeconfigPath) : inClusterConnection());
  }

  get serverUrl(): string {
    return this.server.toString();
  }

  close(): void {
    this.agent.destroy();
    for (const agent of this.retired) agent.destroy();
    this.retired.clear();
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T | null> {
    const url = new URL(path, this.server);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    let { status, text } = await this.send(method, url, payload, options.contentType, options.signal);
    // A rejected exec credential (revoked, or expired early) is asked for again, once.
    if (status === 401 && this.connection.unauthorized?.()) ({ status, text } = await this.send(method, url, payload, options.contentType, options.signal));
    if (status >= 200 && status < 300) {
      if (!text) return null;
      const parsed = JSON.parse(text) as T;
      shedGarbage(text.length);
      return parsed;
    }
    if (options.allowStatus?.includes(status)) return null;
    throw toApiError(status, text, `${method} ${url.pathname}`);
  }

  private async send(method: string, url: URL, payload: string | undefined, contentType: string | undefined, signal?: AbortSignal): Promise<{ status: number; text: string }> {
    const credentials = await this.connection.credentials();
    const headers: Record<string, string> = { Accept: 'application/json', ...credentials.headers };
    if (payload) {
      headers['Content-Type'] = contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const agent = this.agentFor(credentials.certificate);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = transport.request(url, { method, headers, agent, timeout: REQUEST_TIMEOUT_MS, signal }, (res) => {
        // Decoded as it arrives: each socket chunk is garbage at once instead of kept until the end.
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * A streaming GET (a watch): the response body is split into lines as it arrives and each line is
   * handed to `onLine`; a line longer than `maxLineBytes` aborts the stream. Resolves when the server
   * ends the response; rejects with a KubeApiError for a non-2xx status. Watches get a connection of
   * their own (no keep-alive pool), so long-lived streams never take sockets from applies.
   */
  async stream(
    path: string,
    options: { query?: Record<string, string | undefined>; signal?: AbortSignal; maxLineBytes: number; onLine: (line: string) => void; idleTimeoutMs?: number },
  ): Promise<void> {
    const url = new URL(path, this.server);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    const credentials = await this.connection.credentials();
    const headers: Record<string, string> = { Accept: 'application/json', ...credentials.headers };
    const transport = url.protocol === 'https:' ? https : http;
    const tls = url.protocol === 'https:' ? { ...this.connection.tls, ...credentials.certificate } : {};
    await new Promise<void>((resolve, reject) => {
      const req = transport.request(url, { method: 'GET', headers, agent: false, signal: options.signal, ...tls }, (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          // A rejected exec credential is asked for again on the next attempt.
          if (status === 401) this.connection.unauthorized?.();
          const chunks: Buffer[] = [];
          let bytes = 0;
          // Only the start of an error body is kept: it is for a message, and the server may be anything.
          res.on('data', (chunk: Buffer) => {
            if (bytes < options.maxLineBytes) chunks.push(chunk.subarray(0, options.maxLineBytes - bytes));
            bytes += chunk.length;
          });
          res.on('end', () => reject(toApiError(status, Buffer.concat(chunks).toString('utf8'), `GET ${url.pathname}`)));
          res.on('error', reject);
          return;
        }
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        /** Why the stream was cut here: it wins over an `end` that may still follow. */
        let failure: Error | undefined;
        const fail = (error: Error) => {
          failure ??= error;
          reject(failure);
          req.destroy(failure);
        };
        const tooLong = () => fail(new Error(`GET ${url.pathname}: a watch event exceeds ${options.maxLineBytes} bytes`));
        res.on('data', (chunk: Buffer) => {
          if (failure) return;
          let start = 0;
          for (let newline = chunk.indexOf(10, start); newline >= 0; newline = chunk.indexOf(10, start)) {
            // The cap holds for every line, also one that ends in this chunk, before it is joined.
            if (pendingBytes + newline - start > options.maxLineBytes) return tooLong();
            pending.push(chunk.subarray(start, newline));
            const line = Buffer.concat(pending).toString('utf8');
            pending = [];
            pendingBytes = 0;
            start = newline + 1;
            if (line.trim()) {
              try {
                options.onLine(line);
              } catch (error) {
                fail(error instanceof Error ? error : new Error(String(error)));
                return;
              }
            }
          }
          if (start < chunk.length) {
            if (pendingBytes + chunk.length - start > options.maxLineBytes) return tooLong();
            pending.push(chunk.subarray(start));
            pendingBytes += chunk.length - start;
          }
        });
        res.on('end', () => (failure ? reject(failure) : resolve()));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`GET ${url.pathname}: the watch was cut off`)));
      });
      // A connection that died without a word (no FIN, no RST) must not hold a watch forever.
      req.setTimeout(options.idleTimeoutMs ?? REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`GET ${url.pathname}: no data for ${options.idleTimeoutMs ?? REQUEST_TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** Resolves a kind to its resource and scope through discovery; a miss refreshes the group-version once (new CRDs). */
  async resourceFor(apiVersion: string, kind: string): Promise<ResourceInfo> {
    let kinds = this.discovery.get(apiVersion);
    if (!kinds?.has(kind)) {
      kinds = await this.discover(apiVersion);
    }
    const info = kinds.get(kind);
    if (!info) throw new KubeApiError(404, 'NotFound', `no resource for kind ${kind} in ${apiVersion} (is its CRD installed?)`);
    return info;
  }

  /** Forgets discovery results, e.g. after CRDs were created or deleted. */
  invalidateDiscovery(): void {
    this.discovery.clear();
  }

  private async discover(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await this.request<{ resources: { name: string; kind: string; namespaced: boolean }[] }>('GET', path, {
      allowStatus: [404],
    });
    const kinds = new Map<string, ResourceInfo>();
    for (const entry of list?.resources ?? []) {
      // Subresources (`deployments/status`) share the kind of their parent.
      if (entry.name.includes('/')) continue;
      kinds.set(entry.kind, { resource: entry.name, namespaced: entry.namespaced });
    }
    this.discovery.set(apiVersion, kinds);
    return kinds;
  }

  /** The URL path of an object (or of its collection when `name` is omitted). */
  async pathFor(ref: { apiVersion: string; kind: string; namespace?: string; name?: string }): Promise<string> {
    const info = await this.resourceFor(ref.apiVersion, ref.kind);
    const base = ref.apiVersion.includes('/') ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const scope = info.namespaced ? `/namespaces/${encodeURIComponent(ref.namespace || 'default')}` : '';
    const name = ref.name === undefined ? '' : `/${encodeURIComponent(ref.name)}`;
    return `${base}${scope}/${info.resource}${name}`;
  }

  async get(ref: { apiVersion: string; kind: string; namespace?: string; name: string }): Promise<KubeObject | null> {
    return this.request<KubeObject>('GET', await this.pathFor(ref), { allowStatus: [404] });
  }

  /** Server-side apply; `force` takes fields over from other managers. */
  async apply(
    object: KubeObject,
    options: { fieldManager: string; force: boolean; dryRun?: boolean },
  ): Promise<KubeObject> {
    const path = await this.pathFor({
      apiVersion: object.apiVersion,
      kind: object.kind,
      namespace: object.metadata.namespace,
      name: object.metadata.name,
    });
    const result = await this.request<KubeObject>('PATCH', path, {
      body: object,
      contentType: 'application/apply-patch+yaml',
      query: {
        fieldManager: options.fieldManager,
        force: options.force ? 'true' : undefined,
        dryRun: options.dryRun ? 'All' : undefined,
      },
    });
    if (!result) throw new Error(`apply of ${object.kind}/${object.metadata.name} returned no object`);
    return result;
  }

  /** Deletes with background propagation; returns false when the object was already gone. */
  async delete(ref: { apiVersion: string; kind: string; namespace?: string; name: string }): Promise<boolean> {
    const result = await this.request<unknown>('DELETE', await this.pathFor(ref), {
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
      allowStatus: [404],
    });
    return result !== null;
  }
}

function toApiError(status: number, text: string, what: string): KubeApiError {
  try {
    const body = JSON.parse(text) as { kind?: string; reason?: string; message?: string; details?: { causes?: [] } };
    if (body.kind === 'Status') {
      return new KubeApiError(status, body.reason ?? 'Unknown', body.message ?? `${what}: HTTP ${status}`);
    }
  } catch {
    // Not JSON (a proxy or a crashed apiserver); fall through to the raw text.
  }
  return new KubeApiError(status, 'Unknown', `${what}: HTTP ${status} ${text.slice(0, 200)}`);
}
