// Connection settings for the apiserver: the in-cluster service account, or a kubeconfig file.
// Token, token-file, client-certificate and basic credentials are read here directly, exec credential
// plugins are run by exec.ts, and an auth-provider's id-token is used as it is: no Kubernetes client
// library is loaded (@kubernetes/client-node alone cost ~80 MiB of memory and most of a second).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type https from 'node:https';
import { dirname, resolve } from 'node:path';
import { CORE_SCHEMA, load } from 'js-yaml';
import { ExecCredentialProvider, type ExecClusterInfo, type ExecConfig } from './exec.ts';

export interface Connection {
  server: URL;
  tls: https.AgentOptions;
  /** Credentials for the next request (token files are re-read as they rotate, exec plugins re-run as they expire). */
  credentials(): Promise<Credentials>;
  /** The apiserver answered 401: cached credentials are dropped; true when asking again may help. */
  unauthorized?(): boolean;
}

export interface Credentials {
  headers: Record<string, string>;
  /** A client certificate that can change (from an exec plugin); the client replaces its TLS agent when it does. */
  certificate?: { cert: string; key: string };
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN_REFRESH_MS = 60_000;

function tokenFileCredentials(path: string): () => Promise<Credentials> {
  let cached: { credentials: Credentials; readAt: number } | null = null;
  return async () => {
    if (!cached || Date.now() - cached.readAt > TOKEN_REFRESH_MS) {
      cached = { credentials: { headers: { Authorization: `Bearer ${(await readFile(path, 'utf8')).trim()}` } }, readAt: Date.now() };
    }
    return cached.credentials;
  };
}

function fixedCredentials(headers: Record<string, string>): () => Promise<Credentials> {
  const credentials = { headers };
  return async () => credentials;
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
    credentials: tokenFileCredentials(`${serviceAccountDir}/token`),
  };
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: { name: string; cluster: Record<string, string | boolean | undefined> }[];
  users?: { name: string; user: Record<string, unknown> }[];
}

export async function kubeconfigConnection(path: string): Promise<Connection> {
  const config = load(await readFile(path, 'utf8'), { schema: CORE_SCHEMA, maxAliases: 100, filename: path }) as KubeconfigFile;
  const contextName = config['current-context'];
  const context = config.contexts?.find((candidate) => candidate.name === contextName)?.context;
  if (!context) throw new Error(`${path}: current context "${contextName ?? ''}" not found`);
  const cluster = config.clusters?.find((candidate) => candidate.name === context.cluster)?.cluster;
  if (!cluster || typeof cluster['server'] !== 'string') throw new Error(`${path}: cluster "${context.cluster}" has no server`);
  const user = config.users?.find((candidate) => candidate.name === context.user)?.user ?? {};

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

  let credentials = fixedCredentials({});
  if (user['exec']) {
    return execConnection(new URL(cluster['server']), tls, new ExecCredentialProvider(user['exec'] as ExecConfig, base, execClusterInfo(cluster, tls)));
  } else if (user['auth-provider']) {
    const provider = user['auth-provider'] as { name?: string; config?: Record<string, string> };
    const idToken = provider.config?.['id-token'];
    if (typeof idToken !== 'string' || !idToken) {
      throw new Error(
        `${path}: user "${context.user}" needs the ${provider.name ?? ''} auth-provider plugin, which was removed from kubectl and is not supported: configure an exec credential plugin instead`,
      );
    }
    credentials = fixedCredentials({ Authorization: `Bearer ${idToken}` });
  } else if (typeof user['token'] === 'string') {
    credentials = fixedCredentials({ Authorization: `Bearer ${user['token']}` });
  } else if (typeof user['tokenFile'] === 'string') {
    credentials = tokenFileCredentials(resolve(base, user['tokenFile']));
  } else if (typeof user['username'] === 'string') {
    credentials = fixedCredentials({ Authorization: 'Basic ' + Buffer.from(`${user['username']}:${String(user['password'] ?? '')}`).toString('base64') });
  }
  return { server: new URL(cluster['server']), tls, credentials };
}

/** What a plugin with provideClusterInfo is told about the cluster (ExecCredential spec.cluster). */
function execClusterInfo(cluster: Record<string, string | boolean | undefined>, tls: https.AgentOptions): ExecClusterInfo {
  const info: ExecClusterInfo = { server: String(cluster['server']) };
  if (tls.ca) info['certificate-authority-data'] = Buffer.from(tls.ca as Buffer).toString('base64');
  if (typeof cluster['tls-server-name'] === 'string') info['tls-server-name'] = cluster['tls-server-name'];
  if (cluster['insecure-skip-tls-verify'] === true) info['insecure-skip-tls-verify'] = true;
  if (typeof cluster['proxy-url'] === 'string') info['proxy-url'] = cluster['proxy-url'];
  const extensions: unknown = (cluster as Record<string, unknown>)['extensions'];
  const execExtension = Array.isArray(extensions)
    ? (extensions as { name?: string; extension?: unknown }[]).find((entry) => entry.name === 'client.authentication.k8s.io/exec')
    : undefined;
  if (execExtension) info.config = execExtension.extension;
  return info;
}

/** Exec users: the plugin's token and/or client certificate, renewed on expiry and after a 401. */
function execConnection(server: URL, tls: https.AgentOptions, provider: ExecCredentialProvider): Connection {
  return {
    server,
    tls,
    async credentials(): Promise<Credentials> {
      const { token, clientCertificate, clientKey } = await provider.credential();
      return {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        certificate: clientCertificate && clientKey ? { cert: clientCertificate, key: clientKey } : undefined,
      };
    },
    unauthorized() {
      provider.invalidate();
      return true;
    },
  };
}
