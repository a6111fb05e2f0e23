// The end-to-end world: the control plane and one agent per cluster, each a separate process,
// over the real clusters and registry of the test environment.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runFlotilla, type CliResult } from '../support/cli.ts';
import { freePort } from '../env/harness.ts';
import type { TestEnv } from '../env/types.ts';
import { sleep } from '../../lib/sleep.ts';

const exec = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const TSX = join(ROOT, 'node_modules/tsx/dist/cli.mjs');

export const APP = 'storefront';
export const AGENT_NAMESPACE = 'flotilla-e2e';
/** Seconds between agent check-ins: "within one interval" below means within a few of these. */
export const INTERVAL_SECONDS = 2;

export interface ApiResult {
  status: number;
  body: any;
}

export class World {
  private controlPlane?: ChildProcess;
  private readonly agents = new Map<string, ChildProcess>();
  adminToken = '';

  private constructor(
    readonly env: TestEnv,
    readonly dir: string,
    readonly port: number,
    readonly log: (line: string) => void,
  ) {}

  static async create(env: TestEnv, log: (line: string) => void = () => {}) {
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-e2e-'));
    await mkdir(join(dir, 'logs'));
    return new World(env, dir, await freePort(), log);
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  get registry() {
    return this.env.registries.anonymous.host;
  }

  private spawnLogged(name: string, args: string[], env: Record<string, string>): ChildProcess {
    const out = createWriteStream(join(this.dir, 'logs', `${name}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [TSX, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(out);
    child.stderr!.pipe(out);
    return child;
  }

  /** Starts (or restarts) the control plane process on the same port and data directory. */
  async startControlPlane() {
    this.controlPlane = this.spawnLogged('control-plane', ['functions/local.ts'], {
      FLOTILLA_DATA_DIR: join(this.dir, 'data'),
      PORT: String(this.port),
    });
    await waitFor('the control plane to answer /healthz', async () => (await fetch(`${this.url}/healthz`).catch(() => null))?.ok, 30_000);
    this.adminToken = (await readFile(join(this.dir, 'data', 'admin.token'), 'utf8')).trim();
  }

  async stopControlPlane() {
    const child = this.controlPlane;
    this.controlPlane = undefined;
    if (child && child.exitCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }
  }

  cluster(name: string) {
    const cluster = this.env.clusters.find((c) => c.name === name);
    if (!cluster) throw new Error(`no test cluster ${name}`);
    return cluster;
  }

  /** Starts the agent of one cluster as its own process, bootstrapped with a one-time token. */
  async startAgent(cluster: string, registrationToken: string) {
    await this.kubectl(cluster, ['create', 'namespace', AGENT_NAMESPACE]).catch(() => undefined);
    this.agents.set(
      cluster,
      this.spawnLogged(`agent-${cluster}`, ['agent/main.ts'], {
        FLOTILLA_CONTROL_PLANE_URL: this.url,
        FLOTILLA_REGISTRATION_TOKEN: registrationToken,
        FLOTILLA_NAMESPACE: AGENT_NAMESPACE,
        FLOTILLA_INTERVAL_SECONDS: String(INTERVAL_SECONDS),
        FLOTILLA_LISTEN_PORT: '0',
        KUBECONFIG: this.cluster(cluster).kubeconfigPath,
      }),
    );
  }

  async api(method: string, path: string, token: string, body?: unknown): Promise<ApiResult> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  /** The CLI as CI and SREs run it, in its own process. */
  flotilla(args: string[], token: string): Promise<CliResult> {
    return runFlotilla(args, { FLOTILLA_URL: this.url, FLOTILLA_TOKEN: token, FLOTILLA_CONFIG: join(this.dir, 'none.json') });
  }

  async kubectl(cluster: string, args: string[]): Promise<string> {
    const { stdout } = await exec(this.env.bin.kubectl, ['--kubeconfig', this.cluster(cluster).kubeconfigPath, ...args], { timeout: 60_000 });
    return stdout;
  }

  /** The object as JSON, or null when it does not exist. */
  async get(cluster: string, kind: string, name: string, namespace = APP): Promise<any | null> {
    try {
      return JSON.parse(await this.kubectl(cluster, ['get', kind, name, '-n', namespace, '-o', 'json']));
    } catch (err) {
      if (/NotFound/.test(String((err as { stderr?: string }).stderr))) return null;
      throw err;
    }
  }

  /** Writes the app's manifests for one version into a directory and returns it. */
  async manifests(version: string, options: { configMap?: Record<string, string> | null; image?: string } = {}) {
    const dir = join(this.dir, 'src', version);
    await mkdir(dir, { recursive: true });
    const image = options.image ?? 'nginx:1.27.0';
    await writeFile(join(dir, 'namespace.yaml'), `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${APP}\n`);
    await writeFile(
      join(dir, 'deployment.yaml'),
      `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${APP}
  labels: {app: ${APP}}
spec:
  replicas: 2
  selector:
    matchLabels: {app: ${APP}}
  template:
    metadata:
      labels: {app: ${APP}}
    spec:
      containers:
      - name: web
        image: ${image}
        ports: [{containerPort: 80}]
`,
    );
    await writeFile(
      join(dir, 'service.yaml'),
      `apiVersion: v1
kind: Service
metadata:
  name: ${APP}
spec:
  selector: {app: ${APP}}
  ports: [{port: 80, targetPort: 80}]
`,
    );
    if (options.configMap !== null) {
      const data = options.configMap ?? { mode: 'blue', release: version };
      await writeFile(
        join(dir, 'configmap.yaml'),
        `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${APP}-settings
data:
${Object.entries(data)
  .map(([key, value]) => `  ${key}: "${value}"`)
  .join('\n')}
`,
      );
    }
    return dir;
  }

  async stop() {
    for (const child of this.agents.values()) if (child.exitCode === null) child.kill('SIGTERM');
    await this.stopControlPlane();
    for (const cluster of this.env.clusters) {
      await this.kubectl(cluster.name, ['delete', 'namespace', APP, AGENT_NAMESPACE, '--ignore-not-found', '--wait=false']).catch(() => undefined);
    }
  }
}

/** Polls until the check returns a truthy value; fails naming what it waited for. */
export async function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
}
