// Starts the real test environment (test/env/README.md): three Kubernetes clusters sharing one
// etcd, CNCF distribution registries (anonymous, htpasswd, token), and moto's server, all on
// 127.0.0.1 with free ports, from binaries `npm run env:setup` put in envBinDir().
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync, accessSync, constants as fsConstants } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startRegistryTokenServer, type RegistryTokenServer } from './token-server.ts';
import type { TestCluster, TestEnv, TestRegistry } from './types.ts';
import { sleep } from '../../lib/sleep.ts';

const execFileAsync = promisify(execFile);

export const DEFAULT_CLUSTER_NAMES = ['dev', 'prod-us', 'prod-eu'] as const;

/** Binaries the environment runs; `npm run env:setup` builds them. */
export const REQUIRED_BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
  'registry',
  'oras',
  'moto_server',
  'env-python',
] as const;

type BinaryName = (typeof REQUIRED_BINARIES)[number];

export function envCacheDir(): string {
  return process.env.FLOTILLA_ENV_CACHE || path.join(homedir(), '.cache', 'flotilla-env');
}

/** Directory holding the binaries built by `npm run env:setup`. */
export function envBinDir(): string {
  return path.join(envCacheDir(), 'bin');
}

/** The Stage objects kwok simulates nodes and pods with; setup takes them from kwok's module. */
export function kwokStagesFile(): string {
  return path.join(envCacheDir(), 'share', 'kwok-stages.yaml');
}

export class MissingBinariesError extends Error {
  constructor(readonly missing: string[]) {
    super(
      `The real test environment is not set up: missing ${missing.join(', ')} in ${envCacheDir()}. ` +
        'Run `npm run env:setup` (bash test/env/setup) once; it builds them into the cache.',
    );
    this.name = 'MissingBinariesError';
  }
}

/** Absolute paths of every required binary; throws MissingBinariesError naming what is absent. */
export function resolveBinaries(): Record<BinaryName, string> {
  const bin = envBinDir();
  const missing: string[] = [];
  const paths = {} as Record<BinaryName, string>;
  for (const name of REQUIRED_BINARIES) {
    const file = path.join(bin, name);
    try {
      accessSync(file, fsConstants.X_OK);
    } catch {
      missing.push(`bin/${name}`);
    }
    paths[name] = file;
  }
  try {
    accessSync(kwokStagesFile(), fsConstants.R_OK);
  } catch {
    missing.push('share/kwok-stages.yaml');
  }
  if (missing.length > 0) throw new MissingBinariesError(missing);
  return paths;
}

export interface StartTestEnvOptions {
  /** Cluster names, in order; default dev, prod-us, prod-eu. */
  clusterNames?: readonly string[];
  /** Also start a registry behind token auth (with an in-process token server); default true. */
  tokenRegistry?: boolean;
  /** Per-run state (etcd data, kubeconfigs, logs); default a fresh directory under the OS temp dir. */
  stateDir?: string;
  /** Progress lines; default silent. */
  log?: (line: string) => void;
  /** Overall startup deadline; default 180 s (three apiservers on two cores take well under that). */
  startupTimeoutMs?: number;
}

export interface RunningTestEnv {
  env: TestEnv;
  stateDir: string;
  /** Wall-clock time startTestEnv took. */
  startupMs: number;
  /** Process ids of every process the environment runs (each leads its own process group). */
  pids(): number[];
  /** Names of processes that exited while the environment was meant to be running. */
  unexpectedExits(): string[];
  /** Kills every process group; removes the state directory unless keepState. Idempotent. */
  stop(options?: { keepState?: boolean }): Promise<void>;
}

// ---- Processes -------------------------------------------------------------------------------

interface ManagedProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  exited: Promise<void>;
}

class ProcessSupervisor {
  readonly processes: ManagedProcess[] = [];
  private stopping = false;
  private readonly pgidFile: string;
  private watchdog?: ChildProcess;

  constructor(
    readonly logDir: string,
    stateDir: string,
  ) {
    this.pgidFile = path.join(stateDir, 'process-groups');
    writeFileSync(this.pgidFile, '');
  }

  /**
   * A detached shell that outlives us only to clean up: if this Node process dies without
   * running stop() (SIGKILL, crash), it kills every process group listed in pgidFile.
   */
  startWatchdog(): void {
    const script = [
      'parent=$1; groups=$2',
      'while kill -0 "$parent" 2>/dev/null; do sleep 1; done',
      '[ -f "$groups" ] || exit 0',
      'while read -r g; do kill -TERM -- "-$g" 2>/dev/null; done < "$groups"',
      'sleep 3',
      'while read -r g; do kill -KILL -- "-$g" 2>/dev/null; done < "$groups"',
    ].join('\n');
    this.watchdog = spawn('bash', ['-c', script, 'flotilla-env-watchdog', String(process.pid), this.pgidFile], {
      detached: true,
      stdio: 'ignore',
    });
    this.watchdog.unref();
  }

  start(name: string, command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ManagedProcess {
    if (this.stopping) throw new Error(`not starting ${name}: the environment is stopping`);
    const logFile = path.join(this.logDir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    writeFileSync(fd, `# ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
    // detached: each process leads its own group, so one kill reaches anything it forks.
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    closeSync(fd);
    const managed: ManagedProcess = {
      name,
      child,
      logFile,
      exited: new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          managed.exit = { code, signal };
          resolve();
        });
        child.once('error', (error) => {
          managed.exit = { code: -1, signal: null };
          writeFileSync(logFile, `\n# spawn failed: ${error.message}\n`, { flag: 'a' });
          resolve();
        });
      }),
    };
    child.unref();
    if (child.pid !== undefined) writeFileSync(this.pgidFile, `${child.pid}\n`, { flag: 'a' });
    this.processes.push(managed);
    return managed;
  }

  unexpectedExits(): string[] {
    return this.processes.filter((p) => p.exit !== undefined && !this.stopping).map((p) => p.name);
  }

  /** Synchronous last resort for process 'exit' handlers, where nothing async runs. */
  killAllNow(): void {
    for (const p of this.processes) {
      if (p.exit === undefined && p.child.pid !== undefined) {
        try {
          process.kill(-p.child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  async stopAll(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    // Dependents first so they do not spend their last seconds logging connection errors.
    const order = (p: ManagedProcess) => (p.name === 'etcd' ? 2 : p.name.startsWith('kube-apiserver') ? 1 : 0);
    for (const rank of [0, 1, 2]) {
      await Promise.all(
        this.processes.filter((p) => order(p) === rank).map((p) => this.stopOne(p, graceMs)),
      );
    }
    if (this.watchdog?.pid !== undefined) {
      try {
        process.kill(-this.watchdog.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  private async stopOne(p: ManagedProcess, graceMs: number): Promise<void> {
    const pid = p.child.pid;
    if (pid === undefined) return;
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-pid, signal);
      } catch {
        // group already empty
      }
    };
    if (p.exit === undefined) {
      signalGroup('SIGTERM');
      const timedOut = await Promise.race([p.exited.then(() => false), sleep(graceMs).then(() => true)]);
      if (timedOut) signalGroup('SIGKILL');
      await Promise.race([p.exited, sleep(2_000)]);
    }
    // Children the leader left behind in its group.
    signalGroup('SIGKILL');
  }
}

// ---- Small helpers ---------------------------------------------------------------------------



const handedOutPorts = new Set<number>();

/** A port nothing listens on right now; never the same one twice in this process. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    if (!handedOutPorts.has(port)) {
      handedOutPorts.add(port);
      return port;
    }
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface HttpResult {
  status: number;
  body: string;
}

/** One HTTP(S) request with a short timeout; `ca` switches to HTTPS verified against it. */
export function httpCall(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; ca?: string; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(
      target,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        ca: options.ca,
        timeout: options.timeoutMs ?? 5_000,
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`timeout: ${url}`)));
    request.on('error', reject);
    request.end(options.body);
  });
}

/**
 * Polls `check` until it returns a value, failing early with the log tail of any watched
 * process that exits meanwhile, and at the deadline with the last error seen.
 */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { deadline: number; watch: ManagedProcess[]; intervalMs?: number },
): Promise<T> {
  let lastError: unknown;
  for (;;) {
    for (const p of options.watch) {
      if (p.exit !== undefined) {
        throw new Error(
          `${p.name} exited (code ${p.exit.code}, signal ${p.exit.signal}) while waiting for ${what}; ` +
            `log ${p.logFile}:\n${tail(p.logFile)}`,
        );
      }
    }
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > options.deadline) {
      const logs = options.watch.map((p) => p.logFile).join(', ');
      throw new Error(`timed out waiting for ${what} (last error: ${String(lastError)}); logs: ${logs}`);
    }
    await sleep(options.intervalMs ?? 200);
  }
}

// ---- Components ------------------------------------------------------------------------------

interface ClusterPlan {
  name: string;
  dir: string;
  port: number;
  kwokPort: number;
  adminToken: string;
  controllerManagerToken: string;
  schedulerToken: string;
  kwokToken: string;
}

/** The CA certificates (basicConstraints CA:TRUE) among the PEM blocks of a bundle. */
function caCertificates(bundle: string): string {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const cas = blocks.filter((pem) => new X509Certificate(pem).ca);
  if (cas.length === 0) throw new Error('the apiserver serving bundle has no CA certificate');
  return cas.join('\n') + '\n';
}

function kubeconfig(cluster: { name: string; server: string; caFile: string; user: string; token: string }): string {
  // JSON is valid YAML, and needs no YAML writer.
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: cluster.name, cluster: { server: cluster.server, 'certificate-authority': cluster.caFile } }],
      users: [{ name: cluster.user, user: { token: cluster.token } }],
      contexts: [{ name: cluster.name, context: { cluster: cluster.name, user: cluster.user, namespace: 'default' } }],
      'current-context': cluster.name,
    },
    null,
    2,
  );
}

function fakeNode(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      // kwok takes the node over; the ttl annotation keeps kubelet-less nodes from being GC'd.
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
      labels: {
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/os': 'linux',
        'kubernetes.io/hostname': name,
        'node-role.kubernetes.io/agent': '',
        type: 'kwok',
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
      nodeInfo: {
        architecture: 'amd64',
        operatingSystem: 'linux',
        kubeletVersion: 'fake',
        kubeProxyVersion: 'fake',
        containerRuntimeVersion: 'fake',
        kernelVersion: '',
        osImage: '',
        bootID: '',
        machineID: '',
        systemUUID: '',
      },
      phase: 'Running',
    },
  };
}

// ---- startTestEnv ----------------------------------------------------------------------------

export async function startTestEnv(options: StartTestEnvOptions = {}): Promise<RunningTestEnv> {
  const startedAt = Date.now();
  const bins = resolveBinaries();
  const log = options.log ?? (() => {});
  const clusterNames = options.clusterNames ?? DEFAULT_CLUSTER_NAMES;
  const withTokenRegistry = options.tokenRegistry ?? true;
  const deadline = startedAt + (options.startupTimeoutMs ?? 180_000);

  const stateDir = options.stateDir ?? (await mkdtemp(path.join(tmpdir(), 'flotilla-env-')));
  const logDir = path.join(stateDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const supervisor = new ProcessSupervisor(logDir, stateDir);
  supervisor.startWatchdog();
  let tokenServer: RegistryTokenServer | undefined;

  let stopped: Promise<void> | undefined;
  const stop = (stopOptions: { keepState?: boolean } = {}): Promise<void> => {
    stopped ??= (async () => {
      process.off('exit', killOnExit);
      await supervisor.stopAll();
      await tokenServer?.close();
      if (!stopOptions.keepState) await rm(stateDir, { recursive: true, force: true });
    })();
    return stopped;
  };
  const killOnExit = () => supervisor.killAllNow();
  process.on('exit', killOnExit);

  try {
    log(`state and logs in ${stateDir}`);
    // Go programs here need nothing from the environment but PATH/HOME; OTEL_* keeps
    // distribution from exporting traces to a collector that is not there.
    const childEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: stateDir,
      OTEL_TRACES_EXPORTER: 'none',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      OTEL_SDK_DISABLED: 'true',
    };

    // --- etcd, shared by every cluster under its own --etcd-prefix
    const etcdPort = await freePort();
    const etcdPeerPort = await freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = supervisor.start(
      'etcd',
      bins.etcd,
      [
        '--name=flotilla-test',
        `--data-dir=${path.join(stateDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=flotilla-test=http://127.0.0.1:${etcdPeerPort}`,
        // Throwaway data: durability costs time and buys nothing.
        '--unsafe-no-fsync',
        '--quota-backend-bytes=2147483648',
        '--log-level=warn',
      ],
      { env: childEnv },
    );

    // --- Registries and moto start while etcd and the apiservers boot.
    const registriesReady = startRegistries();
    const motoReady = startMoto();

    await waitFor(
      'etcd /health',
      async () => {
        const result = await httpCall(`${etcdUrl}/health`, { timeoutMs: 2_000 });
        return result.status === 200 && result.body.includes('"true"') ? true : undefined;
      },
      { deadline, watch: [etcd], intervalMs: 100 },
    );
    log(`etcd ready at ${etcdUrl} (${Date.now() - startedAt} ms)`);

    const clusters = await Promise.all(clusterNames.map((name) => startCluster(name)));
    const [registries, moto] = await Promise.all([registriesReady, motoReady]);

    const env: TestEnv = {
      clusters,
      registries,
      moto,
      bin: { ...bins, kubectl: bins.kubectl, oras: bins.oras },
      logDir,
    };
    await writeFile(path.join(stateDir, 'test-env.json'), JSON.stringify(env, null, 2));
    const startupMs = Date.now() - startedAt;
    log(`environment ready in ${startupMs} ms`);
    return {
      env,
      stateDir,
      startupMs,
      pids: () => supervisor.processes.flatMap((p) => (p.child.pid === undefined || p.exit ? [] : [p.child.pid])),
      unexpectedExits: () => supervisor.unexpectedExits(),
      stop,
    };

    // --- Component starters (hoisted; they close over the state above).

    async function startCluster(name: string): Promise<TestCluster> {
      const dir = path.join(stateDir, 'clusters', name);
      const pki = path.join(dir, 'pki');
      await mkdir(pki, { recursive: true });
      const plan: ClusterPlan = {
        name,
        dir,
        port: await freePort(),
        kwokPort: await freePort(),
        adminToken: randomBytes(24).toString('hex'),
        controllerManagerToken: randomBytes(24).toString('hex'),
        schedulerToken: randomBytes(24).toString('hex'),
        kwokToken: randomBytes(24).toString('hex'),
      };
      const server = `https://127.0.0.1:${plan.port}`;
      // The apiserver writes a self-signed CA and a serving cert for 127.0.0.1 into --cert-dir;
      // apiserver.crt holds the leaf followed by that CA. ca.crt gets the CA alone: clients
      // accept either, but the controller-manager publishes --root-ca-file as a trust bundle
      // and rejects a leaf in it.
      const servingCertFile = path.join(pki, 'apiserver.crt');
      const caFile = path.join(pki, 'ca.crt');
      // The apiserver reads public keys only as PKIX, private keys only as SEC1 or PKCS#1.
      const serviceAccountKey = path.join(pki, 'service-account.key');
      const serviceAccountPublicKey = path.join(pki, 'service-account.pub');
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await writeFile(serviceAccountKey, privateKey.export({ type: 'sec1', format: 'pem' }), { mode: 0o600 });
      await writeFile(serviceAccountPublicKey, publicKey.export({ type: 'spki', format: 'pem' }));
      // Static tokens: the scheduler gets its RBAC bootstrap role by its well-known name; the
      // admin, kwok and the controller-manager are system:masters.
      const tokenFile = path.join(dir, 'tokens.csv');
      await writeFile(
        tokenFile,
        [
          `${plan.adminToken},flotilla-admin,uid-admin,"system:masters"`,
          // Without --use-service-account-credentials every controller acts as the manager
          // itself, which its bootstrap role does not cover: make it a master instead.
          `${plan.controllerManagerToken},system:kube-controller-manager,uid-kcm,"system:masters"`,
          `${plan.schedulerToken},system:kube-scheduler,uid-scheduler`,
          `${plan.kwokToken},kwok,uid-kwok,"system:masters"`,
        ].join('\n') + '\n',
        { mode: 0o600 },
      );

      const apiserver = supervisor.start(
        `kube-apiserver-${name}`,
        bins['kube-apiserver'],
        [
          `--etcd-servers=${etcdUrl}`,
          `--etcd-prefix=/flotilla-test/${name}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${plan.port}`,
          `--cert-dir=${pki}`,
          `--token-auth-file=${tokenFile}`,
          '--authorization-mode=RBAC',
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          `--service-account-key-file=${serviceAccountPublicKey}`,
          `--service-account-signing-key-file=${serviceAccountKey}`,
          '--service-cluster-ip-range=10.96.0.0/16',
          '--allow-privileged=true',
          // 127.0.0.1 is not a valid Endpoints address; nothing in-cluster calls the apiserver.
          '--endpoint-reconciler-type=none',
          '--enable-priority-and-fairness=false',
          '--profiling=false',
          '--v=1',
        ],
        { env: childEnv },
      );
      const admin = { Authorization: `Bearer ${plan.adminToken}` };
      await waitFor(
        `${name} kube-apiserver /readyz`,
        async () => {
          if (!existsSync(servingCertFile)) return undefined;
          const result = await httpCall(`${server}/readyz`, { headers: admin, ca: await readFile(servingCertFile, 'utf8'), timeoutMs: 3_000 });
          return result.status === 200 ? true : undefined;
        },
        { deadline, watch: [apiserver], intervalMs: 250 },
      );
      log(`${name}: kube-apiserver ready at ${server} (${Date.now() - startedAt} ms)`);
      const ca = caCertificates(await readFile(servingCertFile, 'utf8'));
      await writeFile(caFile, ca);

      const kubeconfigPath = path.join(dir, 'kubeconfig');
      await writeFile(kubeconfigPath, kubeconfig({ name, server, caFile, user: 'flotilla-admin', token: plan.adminToken }), { mode: 0o600 });
      const componentKubeconfig = async (component: string, user: string, token: string) => {
        const file = path.join(dir, `${component}.kubeconfig`);
        await writeFile(file, kubeconfig({ name, server, caFile, user, token }), { mode: 0o600 });
        return file;
      };

      const controllerManager = supervisor.start(
        `kube-controller-manager-${name}`,
        bins['kube-controller-manager'],
        [
          `--kubeconfig=${await componentKubeconfig('kube-controller-manager', 'system:kube-controller-manager', plan.controllerManagerToken)}`,
          '--secure-port=0',
          '--leader-elect=false',
          `--cluster-name=${name}`,
          `--root-ca-file=${caFile}`,
          `--service-account-private-key-file=${serviceAccountKey}`,
          '--use-service-account-credentials=false',
          '--profiling=false',
          '--v=1',
        ],
        { env: childEnv },
      );
      const scheduler = supervisor.start(
        `kube-scheduler-${name}`,
        bins['kube-scheduler'],
        [
          `--kubeconfig=${await componentKubeconfig('kube-scheduler', 'system:kube-scheduler', plan.schedulerToken)}`,
          '--secure-port=0',
          '--leader-elect=false',
          '--profiling=false',
          '--v=1',
        ],
        { env: childEnv },
      );
      const kwok = supervisor.start(
        `kwok-${name}`,
        bins.kwok,
        [
          `--kubeconfig=${await componentKubeconfig('kwok', 'kwok', plan.kwokToken)}`,
          `--config=${kwokStagesFile()}`,
          '--manage-all-nodes=true',
          // The node controller reads liveness from the lease kwok renews.
          '--node-lease-duration-seconds=40',
          `--server-address=127.0.0.1:${plan.kwokPort}`,
          '--node-ip=127.0.0.1',
          '--cidr=10.244.0.1/16',
        ],
        { env: childEnv },
      );

      const created = await httpCall(`${server}/api/v1/nodes`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify(fakeNode('kwok-node-0')),
        ca,
      });
      if (created.status !== 201 && created.status !== 409) {
        throw new Error(`${name}: creating the fake node failed: HTTP ${created.status} ${created.body}`);
      }
      const watched = [apiserver, controllerManager, scheduler, kwok];
      // Ready means a Deployment can become Available: a Ready node (kwok) and the default
      // ServiceAccount (controller-manager) that pods in `default` need to be admitted.
      await Promise.all([
        waitFor(
          `${name}: node kwok-node-0 Ready`,
          async () => {
            const result = await httpCall(`${server}/api/v1/nodes/kwok-node-0`, { headers: admin, ca });
            if (result.status !== 200) return undefined;
            const node = JSON.parse(result.body) as { status?: { conditions?: { type: string; status: string }[] } };
            return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
          },
          { deadline, watch: watched, intervalMs: 250 },
        ),
        waitFor(
          `${name}: ServiceAccount default/default`,
          async () => {
            const result = await httpCall(`${server}/api/v1/namespaces/default/serviceaccounts/default`, { headers: admin, ca });
            return result.status === 200 ? true : undefined;
          },
          { deadline, watch: watched, intervalMs: 250 },
        ),
      ]);
      log(`${name}: node Ready, controllers running (${Date.now() - startedAt} ms)`);
      return { name, kubeconfigPath, server, token: plan.adminToken, caFile };
    }

    async function startRegistry(name: string, auth: Record<string, unknown> | undefined, plain: Omit<TestRegistry, 'url' | 'host'>): Promise<TestRegistry> {
      const port = await freePort();
      const dir = path.join(stateDir, 'registries', name);
      await mkdir(dir, { recursive: true });
      const config = {
        version: 0.1,
        log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
        storage: { filesystem: { rootdirectory: path.join(dir, 'data') }, delete: { enabled: true }, cache: { blobdescriptor: 'inmemory' } },
        http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString('hex'), headers: { 'X-Content-Type-Options': ['nosniff'] } },
        ...(auth ? { auth } : {}),
      };
      const configFile = path.join(dir, 'config.yml');
      await writeFile(configFile, JSON.stringify(config, null, 2));
      const registry = supervisor.start(`registry-${name}`, bins.registry, ['serve', configFile], { env: childEnv });
      const url = `http://127.0.0.1:${port}`;
      await waitFor(
        `registry ${name} /v2/`,
        async () => {
          const result = await httpCall(`${url}/v2/`, { timeoutMs: 2_000 });
          return result.status === 200 || result.status === 401 ? true : undefined;
        },
        { deadline, watch: [registry], intervalMs: 100 },
      );
      log(`registry ${name} ready at ${url} (${Date.now() - startedAt} ms)`);
      return { url, host: `127.0.0.1:${port}`, ...plain };
    }

    async function startRegistries(): Promise<TestEnv['registries']> {
      const username = 'flotilla';
      const password = randomBytes(12).toString('hex');
      const htpasswdFile = path.join(stateDir, 'registries', 'htpasswd');
      await mkdir(path.dirname(htpasswdFile), { recursive: true });
      // distribution reads bcrypt only; python's bcrypt lives in the venv setup made for moto.
      // Cost 4 (the minimum) keeps every authenticated request cheap; the secret is throwaway.
      const { stdout: hash } = await execFileAsync(bins['env-python'], [
        '-c',
        'import bcrypt, sys; print(bcrypt.hashpw(sys.argv[1].encode(), bcrypt.gensalt(rounds=4)).decode())',
        password,
      ]);
      await writeFile(htpasswdFile, `${username}:${hash.trim()}\n`, { mode: 0o600 });

      const anonymous = startRegistry('anonymous', undefined, { auth: 'anonymous' });
      const basic = startRegistry('basic', { htpasswd: { realm: 'flotilla-test-registry', path: htpasswdFile } }, { auth: 'basic', username, password });
      let token: Promise<TestRegistry> | undefined;
      if (withTokenRegistry) {
        const service = 'flotilla-test-registry';
        const issuer = 'flotilla-test-token-server';
        const jwksPath = path.join(stateDir, 'registries', 'token-jwks.json');
        tokenServer = await startRegistryTokenServer({ issuer, service, username, password, jwksPath });
        token = startRegistry(
          'token',
          { token: { realm: tokenServer.realm, service, issuer, jwks: jwksPath, signingalgorithms: ['ES256'] } },
          { auth: 'token', username, password },
        );
      }
      return { anonymous: await anonymous, basic: await basic, ...(token ? { token: await token } : {}) };
    }

    async function startMoto(): Promise<TestEnv['moto']> {
      const port = await freePort();
      const moto = supervisor.start('moto', bins.moto_server, ['-H', '127.0.0.1', '-p', String(port)], {
        env: { ...childEnv, MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
      });
      const endpoint = `http://127.0.0.1:${port}`;
      await waitFor(
        'moto server',
        async () => {
          const result = await httpCall(`${endpoint}/moto-api/data.json`, { timeoutMs: 2_000 });
          return result.status === 200 ? true : undefined;
        },
        { deadline, watch: [moto], intervalMs: 200 },
      );
      log(`moto ready at ${endpoint} (${Date.now() - startedAt} ms)`);
      return { endpoint, region: 'us-east-1', accessKeyId: 'testing', secretAccessKey: 'testing' };
    }
  } catch (error) {
    await stop({ keepState: true });
    const message = error instanceof Error ? error.message : String(error);
    const failure = new Error(`test environment failed to start: ${message}\nprocess logs kept in ${logDir}`);
    await appendFile(path.join(stateDir, 'startup-error.txt'), `${message}\n`).catch(() => {});
    throw failure;
  }
}

/** Lines telling a person how to reach each part of a running environment. */
export function describeTestEnv(env: TestEnv): string[] {
  const lines: string[] = [];
  for (const cluster of env.clusters) {
    lines.push(`cluster ${cluster.name}: ${cluster.server}`);
    lines.push(`  ${env.bin.kubectl} --kubeconfig ${cluster.kubeconfigPath} get nodes`);
  }
  for (const registry of Object.values(env.registries)) {
    if (!registry) continue;
    const credentials = registry.username ? ` (user ${registry.username}, password ${registry.password})` : '';
    lines.push(`registry ${registry.auth}: ${registry.url}${credentials}`);
  }
  const basic = env.registries.basic;
  lines.push(`  ${env.bin.oras} repo ls --plain-http -u ${basic.username} -p ${basic.password} ${basic.host}`);
  lines.push(`moto (DynamoDB, S3): ${env.moto.endpoint} region ${env.moto.region} key ${env.moto.accessKeyId}/${env.moto.secretAccessKey}`);
  lines.push(`logs: ${env.logDir}`);
  return lines;
}
