// The end-to-end world: the control plane and one agent per cluster, each a separate process,
// over the real clusters and registry of the test environment.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
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
/** "Within one check-in interval", with room for the apply and the health wait. */
export const CONVERGE_MS = (INTERVAL_SECONDS * 3 + 20) * 1000;

/** What one World owns on the shared clusters (test files run in parallel: each owns its names). */
export interface WorldOptions {
  /** The app the story deploys; also its namespace. */
  app?: string;
  /** The namespace of the agents (their inventories). */
  agentNamespace?: string;
  /** FLOTILLA_CLOCK_SECONDS of the control plane (rollout soaks and deadlines); its default when unset. */
  clockSeconds?: number;
}

export interface ApiResult {
  status: number;
  body: any;
}

export class World {
  private controlPlane?: ChildProcess;
  private readonly agents = new Map<string, ChildProcess>();
  adminToken = '';
  readonly app: string;
  readonly agentNamespace: string;

  private constructor(
    readonly env: TestEnv,
    readonly dir: string,
    readonly port: number,
    readonly log: (line: string) => void,
    readonly options: WorldOptions,
  ) {
    this.app = options.app ?? APP;
    this.agentNamespace = options.agentNamespace ?? AGENT_NAMESPACE;
  }

  static async create(env: TestEnv, log: (line: string) => void = () => {}, options: WorldOptions = {}) {
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-e2e-'));
    await mkdir(join(dir, 'logs'));
    return new World(env, dir, await freePort(), log, options);
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
      ...(this.options.clockSeconds === undefined ? {} : { FLOTILLA_CLOCK_SECONDS: String(this.options.clockSeconds) }),
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
    await this.kubectl(cluster, ['create', 'namespace', this.agentNamespace]).catch(() => undefined);
    this.agents.set(
      cluster,
      this.spawnLogged(`agent-${cluster}`, ['agent/main.ts'], {
        FLOTILLA_CONTROL_PLANE_URL: this.url,
        FLOTILLA_REGISTRATION_TOKEN: registrationToken,
        FLOTILLA_NAMESPACE: this.agentNamespace,
        FLOTILLA_INTERVAL_SECONDS: String(INTERVAL_SECONDS),
        FLOTILLA_LISTEN_PORT: '0',
        KUBECONFIG: this.cluster(cluster).kubeconfigPath,
      }),
    );
  }

  /**
   * The fleet both stories start from: environments dev and prod (upstream dev), the app, dev
   * tracking ^1.0.0, prod manual, clusters dev (us), prod-us and prod-eu; then `prod`, if given, as
   * prod's spec (waves name regions, so it comes once the clusters exist).
   */
  async defineFleet(prod?: object) {
    const app = this.app;
    const setup: [string, string, unknown][] = [
      ['PUT', '/v1/environments/dev', {}],
      ['PUT', '/v1/environments/prod', { upstream: 'dev' }],
      ['PUT', `/v1/apps/${app}`, { repository: `${this.registry}/e2e/${app}`, namespace: app }],
      ['PUT', `/v1/apps/${app}/environments/dev`, { track: '^1.0.0' }],
      ['PUT', `/v1/apps/${app}/environments/prod`, { track: null }],
      ['PUT', '/v1/clusters/dev', { environment: 'dev', region: 'us' }],
      ['PUT', '/v1/clusters/prod-us', { environment: 'prod', region: 'us' }],
      ['PUT', '/v1/clusters/prod-eu', { environment: 'prod', region: 'eu' }],
      ...(prod ? [['PUT', '/v1/environments/prod', prod] as [string, string, unknown]] : []),
    ];
    for (const [method, path, body] of setup) await this.apiOk(method, path, this.adminToken, body);
  }

  /** Registers each cluster's agent with a one-time token, starts it, and waits until all are registered. */
  async startAgents(clusters: string[], narrate: (line: string) => void = () => {}) {
    for (const cluster of clusters) {
      const { body } = await this.apiOk('POST', `/v1/clusters/${cluster}/registration-tokens`, this.adminToken);
      await this.startAgent(cluster, body.token);
      narrate(`agent of ${cluster} started as its own process with a one-time registration token`);
    }
    for (const cluster of clusters) {
      await waitFor(`the agent of ${cluster} to register`, async () => (await this.api('GET', `/v1/clusters/${cluster}`, this.adminToken)).body.registered, 60_000);
    }
  }

  /** An API call that must succeed (2xx); fails naming the call and the answer. */
  async apiOk(method: string, path: string, token: string, body?: unknown): Promise<ApiResult> {
    const res = await this.api(method, path, token, body);
    assert.ok(res.status >= 200 && res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  }

  /** A token for a person or a bot, with one grant. */
  async mintToken(subject: string, grant: Record<string, unknown>): Promise<string> {
    return (await this.apiOk('POST', '/v1/tokens', this.adminToken, { subject, grants: [grant] })).body.token;
  }

  /** The version the cluster's agent last reported for the app, when in that phase; else null. */
  async reportedVersion(cluster: string, phase = 'Ready'): Promise<string | null> {
    const { body } = await this.api('GET', `/v1/clusters/${cluster}`, this.adminToken);
    const status = body?.apps?.[this.app];
    return status?.phase === phase ? status.version : null;
  }

  async waitForVersion(cluster: string, version: string, timeoutMs = CONVERGE_MS) {
    await waitFor(`${cluster} to report ${this.app}@${version} Ready`, async () => (await this.reportedVersion(cluster)) === version, timeoutMs);
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
  async get(cluster: string, kind: string, name: string, namespace = this.app): Promise<any | null> {
    try {
      return JSON.parse(await this.kubectl(cluster, ['get', kind, name, '-n', namespace, '-o', 'json']));
    } catch (err) {
      if (/NotFound/.test(String((err as { stderr?: string }).stderr))) return null;
      throw err;
    }
  }

  /** Writes the app's manifests for one version into a directory and returns it. */
  async manifests(version: string, options: { configMap?: Record<string, string> | null; image?: string; containerEnv?: Record<string, string> } = {}) {
    const app = this.app;
    const dir = join(this.dir, 'src', version);
    await mkdir(dir, { recursive: true });
    const image = options.image ?? 'nginx:1.27.0';
    const env = Object.entries(options.containerEnv ?? {});
    const envLines = env.length ? `        env:\n${env.map(([name, value]) => `        - {name: ${name}, value: "${value}"}`).join('\n')}\n` : '';
    await writeFile(join(dir, 'namespace.yaml'), `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${app}\n`);
    await writeFile(
      join(dir, 'deployment.yaml'),
      `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${app}
  labels: {app: ${app}}
spec:
  replicas: 2
  selector:
    matchLabels: {app: ${app}}
  template:
    metadata:
      labels: {app: ${app}}
    spec:
      containers:
      - name: web
        image: ${image}
        ports: [{containerPort: 80}]
${envLines}`,
    );
    await writeFile(
      join(dir, 'service.yaml'),
      `apiVersion: v1
kind: Service
metadata:
  name: ${app}
spec:
  selector: {app: ${app}}
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
  name: ${app}-settings
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
      await this.kubectl(cluster.name, ['delete', 'namespace', this.app, this.agentNamespace, '--ignore-not-found', '--wait=false']).catch(() => undefined);
    }
  }
}

/** A story's steps: each narrated under its name and timed; `seconds` holds each step's duration. */
export function steps(narrate: (line: string) => void) {
  const seconds: Record<string, number> = {};
  const timed = async (name: string, step: () => Promise<void>) => {
    const start = Date.now();
    narrate(`\n== ${name}`);
    await step();
    seconds[name] = (Date.now() - start) / 1000;
  };
  return { seconds, timed };
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
