// A thin REST client for the kube-apiserver. @kubernetes/client-node loads kubeconfigs and the
// in-cluster service account (and refreshes token files); the requests themselves go through one
// keep-alive agent, because the generated API classes re-create a TLS agent per call, cannot send
// apply patches with dry-run and force together, and hide the apiserver's Status on errors.
import http from 'node:http';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

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
    readonly causes: { field?: string; message?: string; reason?: string }[] = [],
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
}

const AUTH_REFRESH_MS = 60_000;

export class KubeClient {
  private readonly agent: http.Agent;
  private readonly server: URL;
  private authHeaders: Record<string, string> = {};
  private authRefreshedAt = 0;
  /** Discovery cache: group-version → kind → resource. */
  private readonly discovery = new Map<string, Map<string, ResourceInfo>>();

  private constructor(
    private readonly kubeConfig: KubeConfig,
    tls: https.AgentOptions,
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    const agentOptions = { keepAlive: true, maxSockets: 16 };
    this.agent =
      this.server.protocol === 'https:' ? new https.Agent({ ...tls, ...agentOptions }) : new http.Agent(agentOptions);
  }

  /** From a kubeconfig file, or the in-cluster service account when `kubeconfigPath` is undefined. */
  static async create(kubeconfigPath?: string): Promise<KubeClient> {
    const kubeConfig = new KubeConfig();
    if (kubeconfigPath) kubeConfig.loadFromFile(kubeconfigPath);
    else kubeConfig.loadFromCluster();
    const options: https.RequestOptions = {};
    await kubeConfig.applyToHTTPSOptions(options);
    const tls: https.AgentOptions = {
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      servername: options.servername,
    };
    if (options.rejectUnauthorized !== undefined) tls.rejectUnauthorized = options.rejectUnauthorized;
    return new KubeClient(kubeConfig, tls);
  }

  get serverUrl(): string {
    return this.server.toString();
  }

  close(): void {
    this.agent.destroy();
  }

  /** Token files are re-read periodically (projected service-account tokens rotate). */
  private async currentAuthHeaders(): Promise<Record<string, string>> {
    if (Date.now() - this.authRefreshedAt > AUTH_REFRESH_MS) {
      const options: https.RequestOptions = { headers: {} };
      await this.kubeConfig.applyToHTTPSOptions(options);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(options.headers ?? {})) {
        if (typeof value === 'string') headers[name] = value;
      }
      if (options.auth) headers['Authorization'] = 'Basic ' + Buffer.from(options.auth).toString('base64');
      this.authHeaders = headers;
      this.authRefreshedAt = Date.now();
    }
    return this.authHeaders;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T | null> {
    const url = new URL(path, this.server);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, value);
    }
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string> = { Accept: 'application/json', ...(await this.currentAuthHeaders()) };
    if (payload) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const transport = url.protocol === 'https:' ? https : http;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = transport.request(url, { method, headers, agent: this.agent, timeout: 60_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
    if (status >= 200 && status < 300) return text ? (JSON.parse(text) as T) : null;
    if (options.allowStatus?.includes(status)) return null;
    throw toApiError(status, text, `${method} ${url.pathname}`);
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
      return new KubeApiError(status, body.reason ?? 'Unknown', body.message ?? `${what}: HTTP ${status}`, body.details?.causes ?? []);
    }
  } catch {
    // Not JSON (a proxy or a crashed apiserver); fall through to the raw text.
  }
  return new KubeApiError(status, 'Unknown', `${what}: HTTP ${status} ${text.slice(0, 200)}`);
}
