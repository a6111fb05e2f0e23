// The client-go exec credential plugin protocol (client.authentication.k8s.io/v1 and v1beta1), as
// kubectl runs it for `users[].user.exec` in a kubeconfig: the command is run with its args and env
// plus KUBERNETES_EXEC_INFO, prints an ExecCredential on stdout, and its token or client certificate
// is used until `expirationTimestamp` (or until the apiserver answers 401, which runs it again).
// https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins
import { isAbsolute, resolve } from 'node:path';

const API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;
/** A plugin that hangs (waiting for a browser login, say) must not stall the agent for ever. */
const EXEC_TIMEOUT_MS = 60_000;
/** A credential is renewed this long before it expires, so a request never races its expiry. */
const EXPIRY_MARGIN_MS = 10_000;

/** `users[].user.exec` of a kubeconfig. */
export interface ExecConfig {
  apiVersion?: string;
  command?: string;
  args?: string[];
  env?: { name: string; value: string }[] | null;
  provideClusterInfo?: boolean;
  interactiveMode?: 'Never' | 'IfAvailable' | 'Always';
  installHint?: string;
}

/** `clusters[].cluster` of a kubeconfig, as passed to plugins with provideClusterInfo. */
export interface ExecClusterInfo {
  server: string;
  'certificate-authority-data'?: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'proxy-url'?: string;
  config?: unknown;
}

export interface ExecCredential {
  token?: string;
  /** PEM, with clientKey. */
  clientCertificate?: string;
  clientKey?: string;
  /** Epoch milliseconds; undefined = valid until the apiserver rejects it. */
  expiresAt?: number;
}

/** Runs an exec plugin on demand and caches what it printed until it expires or is invalidated. */
export class ExecCredentialProvider {
  private cached: ExecCredential | null = null;
  private running: Promise<ExecCredential> | null = null;
  private readonly apiVersion: (typeof API_VERSIONS)[number];
  private readonly command: string;

  constructor(
    private readonly config: ExecConfig,
    /** The kubeconfig's directory: a command with a path separator is relative to it, as in kubectl. */
    baseDir: string,
    private readonly cluster?: ExecClusterInfo,
  ) {
    const apiVersion = API_VERSIONS.find((candidate) => candidate === config.apiVersion);
    if (!apiVersion) {
      throw new Error(`exec plugin apiVersion "${config.apiVersion ?? ''}" is not supported (use ${API_VERSIONS.join(' or ')})`);
    }
    if (!config.command) throw new Error('exec plugin has no command');
    if (config.interactiveMode === 'Always') {
      throw new Error(`exec plugin ${config.command} wants interactiveMode Always, but the agent has no terminal to give it`);
    }
    this.apiVersion = apiVersion;
    this.command = config.command.includes('/') && !isAbsolute(config.command) ? resolve(baseDir, config.command) : config.command;
  }

  /** The current credential, running the plugin when there is none or it is about to expire. */
  async credential(): Promise<ExecCredential> {
    if (this.cached && (this.cached.expiresAt === undefined || this.cached.expiresAt - EXPIRY_MARGIN_MS > Date.now())) return this.cached;
    // Concurrent requests share one run of the plugin.
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    this.cached = await this.running;
    return this.cached;
  }

  /** After a 401: the next credential() runs the plugin again. */
  invalidate(): void {
    this.cached = null;
  }

  private async run(): Promise<ExecCredential> {
    const execInfo: Record<string, unknown> = {
      apiVersion: this.apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false, ...(this.config.provideClusterInfo && this.cluster ? { cluster: this.cluster } : {}) },
    };
    const env: Record<string, string | undefined> = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(execInfo) };
    for (const entry of this.config.env ?? []) env[entry.name] = entry.value;
    // Loaded only here: node:child_process costs ~3 MiB of memory, which service-account agents never need.
    const { execFile } = await import('node:child_process');
    const { stdout } = await new Promise<{ stdout: string }>((resolvePromise, reject) => {
      execFile(this.command, this.config.args ?? [], { env, timeout: EXEC_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (error, out, err) => {
        if (!error) return resolvePromise({ stdout: out });
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        const detail = missing ? `not found${this.config.installHint ? ` (${this.config.installHint.trim().split('\n')[0]})` : ''}` : lastLine(err) || error.message.split('\n')[0];
        reject(new Error(`exec plugin ${this.config.command} failed: ${detail}`));
      });
    });
    return parseExecCredential(stdout, this.apiVersion, this.config.command!);
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1)?.trim() ?? '';
}

export function parseExecCredential(stdout: string, apiVersion: string, command: string): ExecCredential {
  let parsed: { apiVersion?: string; kind?: string; status?: Record<string, unknown> };
  try {
    parsed = JSON.parse(stdout) as typeof parsed;
  } catch {
    throw new Error(`exec plugin ${command} printed no ExecCredential JSON`);
  }
  if (parsed.kind !== 'ExecCredential' || parsed.apiVersion !== apiVersion) {
    throw new Error(`exec plugin ${command} printed ${parsed.kind ?? 'no kind'} ${parsed.apiVersion ?? ''}, not ExecCredential ${apiVersion}`);
  }
  const status = parsed.status ?? {};
  const text = (name: string) => (typeof status[name] === 'string' && status[name] !== '' ? (status[name] as string) : undefined);
  const credential: ExecCredential = {
    token: text('token'),
    clientCertificate: text('clientCertificateData'),
    clientKey: text('clientKeyData'),
  };
  if (!credential.token && !(credential.clientCertificate && credential.clientKey)) {
    throw new Error(`exec plugin ${command} returned neither a token nor a client certificate and key`);
  }
  if (Boolean(credential.clientCertificate) !== Boolean(credential.clientKey)) {
    throw new Error(`exec plugin ${command} returned a client certificate without its key, or a key without its certificate`);
  }
  const expiration = text('expirationTimestamp');
  if (expiration) {
    const expiresAt = Date.parse(expiration);
    if (Number.isNaN(expiresAt)) throw new Error(`exec plugin ${command} returned an invalid expirationTimestamp "${expiration}"`);
    credential.expiresAt = expiresAt;
  }
  return credential;
}
