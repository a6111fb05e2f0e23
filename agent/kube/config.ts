// Connection settings for the apiserver: the in-cluster service account, or a kubeconfig file.
// Token, client-certificate and basic credentials are read here directly; only users that need an
// exec or auth-provider plugin load @kubernetes/client-node, whose import alone costs ~80 MiB of
// memory and most of a second — too much for an agent that normally runs with a service account.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type https from 'node:https';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';

export interface Connection {
  server: URL;
  tls: https.AgentOptions;
  /** Authorization headers for the next request (token files are re-read as they rotate). */
  headers(): Promise<Record<string, string>>;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_REFRESH_MS = 60_000;

function tokenFileHeaders(path: string): () => Promise<Record<string, string>> {
  let cached: { token: string; readAt: number } | null = null;
  return async () => {
    if (!cached || Date.now() - cached.readAt > TOKEN_REFRESH_MS) {
      cached = { token: (await readFile(path, 'utf8')).trim(), readAt: Date.now() };
    }
    return { Authorization: `Bearer ${cached.token}` };
  };
}

/** The Pod's service account: token and CA mounted by the kubelet, apiserver address from the environment. */
export function inClusterConnection(
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
  env: Record<string, string | undefined> = process.env,
): Connection {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) throw new Error('not running in a cluster (KUBERNETES_SERVICE_HOST is unset) and no kubeconfig given');
  return {
    server: new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`),
    tls: { ca: readFileSync(`${serviceAccountDir}/ca.crt`) },
    headers: tokenFileHeaders(`${serviceAccountDir}/token`),
  };
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: { name: string; cluster: Record<string, string | boolean | undefined> }[];
  users?: { name: string; user: Record<string, unknown> }[];
}

export async function kubeconfigConnection(path: string): Promise<Connection> {
  const config = parse(await readFile(path, 'utf8')) as KubeconfigFile;
  const contextName = config['current-context'];
  const context = config.contexts?.find((candidate) => candidate.name === contextName)?.context;
  if (!context) throw new Error(`${path}: current context "${contextName ?? ''}" not found`);
  const cluster = config.clusters?.find((candidate) => candidate.name === context.cluster)?.cluster;
  if (!cluster || typeof cluster['server'] !== 'string') throw new Error(`${path}: cluster "${context.cluster}" has no server`);
  const user = config.users?.find((candidate) => candidate.name === context.user)?.user ?? {};
  if (user['exec'] || user['auth-provider']) return pluginConnection(path);

  // Relative file references in a kubeconfig are relative to the kubeconfig itself.
  const base = dirname(resolve(path));
  const bytes = (data: unknown, file: unknown): Buffer | undefined => {
    if (typeof data === 'string') return Buffer.from(data, 'base64');
    if (typeof file === 'string') return readFileSync(resolve(base, file));
    return undefined;
  };
  const tls: https.AgentOptions = {
    ca: bytes(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: bytes(user['client-certificate-data'], user['client-certificate']),
    key: bytes(user['client-key-data'], user['client-key']),
  };
  if (cluster['insecure-skip-tls-verify'] === true) tls.rejectUnauthorized = false;
  if (typeof cluster['tls-server-name'] === 'string') tls.servername = cluster['tls-server-name'];

  let headers: Connection['headers'] = async () => ({});
  if (typeof user['token'] === 'string') {
    const fixed = { Authorization: `Bearer ${user['token']}` };
    headers = async () => fixed;
  } else if (typeof user['tokenFile'] === 'string') {
    headers = tokenFileHeaders(resolve(base, user['tokenFile']));
  } else if (typeof user['username'] === 'string') {
    const fixed = { Authorization: 'Basic ' + Buffer.from(`${user['username']}:${String(user['password'] ?? '')}`).toString('base64') };
    headers = async () => fixed;
  }
  return { server: new URL(cluster['server']), tls, headers };
}

/** Exec and auth-provider users: @kubernetes/client-node runs the plugin and caches its credential. */
async function pluginConnection(path: string): Promise<Connection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  const options: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options);
  const tls: https.AgentOptions = { ca: options.ca, cert: options.cert, key: options.key, servername: options.servername };
  if (options.rejectUnauthorized !== undefined) tls.rejectUnauthorized = options.rejectUnauthorized;
  return {
    server: new URL(kubeConfig.getCurrentCluster()!.server),
    tls,
    async headers(): Promise<Record<string, string>> {
      const current: https.RequestOptions & { headers: Record<string, unknown> } = { headers: {} };
      await kubeConfig.applyToHTTPSOptions(current);
      const authorization = current.headers['Authorization'];
      return typeof authorization === 'string' ? { Authorization: authorization } : {};
    },
  };
}
