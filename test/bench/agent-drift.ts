// bench:agent's second half: the agent as it ships (dist/agent/flotilla-agent.mjs, run by Node 24
// with the agent's flags and default settings) keeping a quiet 500-object app, beside the apply
// engine's figures and on the same apiserver. It measures what issue 14 asked of watches:
//   - apiserver requests per object per hour for the quiet app, read from the apiserver's own
//     apiserver_request_total over a window (FLOTILLA_BENCH_QUIET_SECONDS, default 360: one full
//     check and one renewal of every watch at the defaults). The metric has no per-client label, so
//     every client's requests for the kinds the agent uses count (the controller-manager's watch
//     renewals too; not status writes, which are the controllers'): an upper bound on the agent's.
//   - the time from `kubectl edit` returning to the edited field being back, for a few ConfigMaps;
//   - the agent's peak RSS over all of it (VmHWM: applying 500 objects, watching, reverting).
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { startLocalControlPlane } from '../../functions/local-server.ts';
import { sleep } from '../../lib/sleep.ts';
import { KubeClient } from '../../agent/kube/client.ts';
import { AGENT_NODE_FLAGS, buildAgent } from '../../scripts/build.ts';
import { adminClient } from '../support/agent-fixture.ts';
import { publishFiles } from '../support/registry.ts';

const execFileAsync = promisify(execFile);

export interface DriftBenchOptions {
  kubeconfig: string;
  kubectl: string;
  registryHost: string;
  node: string;
  /** The app's objects, all in `namespace`. */
  objects: (namespace: string) => Record<string, unknown>[];
  quietSeconds: number;
  edits: number;
}

export interface DriftFigures {
  objectCount: number;
  quietSeconds: number;
  /** Requests in the window by verb and resource, e.g. `LIST configmaps`. */
  requests: Record<string, number>;
  requestsPerObjectHour: number;
  /** The same without APPLY: in a quiet window those are dry-runs of objects the controllers changed once after their creation (Deployments' revision annotation), not a steady cost. */
  steadyPerObjectHour: number;
  revertSeconds: number[];
  peakRssMiB: number;
}

/** The kinds the app and the agent's own state use; other resources (nodes, leases, pods) are kwok's and the controllers'. */
const AGENT_RESOURCES = new Set(['configmaps', 'secrets', 'services', 'deployments', 'namespaces']);

async function until<T>(seconds: number, what: string, probe: () => Promise<T | undefined>, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${seconds} s: ${what}`);
    await sleep(intervalMs);
  }
}

/** apiserver_request_total summed by `VERB resource` for AGENT_RESOURCES. */
async function requestCounts(kubectl: (args: string[]) => Promise<string>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const line of (await kubectl(['get', '--raw', '/metrics'])).split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1], match[2]]));
    // Status is written by controllers (the Deployments' by the controller-manager), never by the agent.
    if (!AGENT_RESOURCES.has(labels['resource'] ?? '') || labels['subresource'] === 'status') continue;
    const key = `${labels['verb']} ${labels['resource']}${labels['subresource'] ? '/' + labels['subresource'] : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.split(' ').at(-1)));
  }
  return counts;
}

export async function measureDrift(options: DriftBenchOptions): Promise<DriftFigures> {
  const suffix = Date.now().toString(36);
  const namespace = `bench-drift-${suffix}`;
  const agentNamespace = `bench-drift-agent-${suffix}`;
  const objects = options.objects(namespace);
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-drift-'));
  const controlPlane = await startLocalControlPlane({ dataDir: join(dir, 'data'), port: 0, clockSeconds: 0 });
  const admin = adminClient(() => controlPlane);
  const client = await KubeClient.create(options.kubeconfig);
  const kubectl = async (args: string[], env: Record<string, string> = {}): Promise<string> =>
    (await execFileAsync(options.kubectl, ['--kubeconfig', options.kubeconfig, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 })).stdout;
  let agent: ReturnType<typeof spawn> | undefined;
  try {
    const app = 'bench-drift';
    const environment = 'bench';
    const cluster = `bench-${suffix}`;
    const digest = await publishFiles(options.registryHost, `bench/${app}`, '1.0.0', {
      'manifests/objects.yaml': objects.map((object) => stringify(object)).join('---\n'),
    });
    await admin('PUT', `/v1/environments/${environment}`, {});
    await admin('PUT', `/v1/apps/${app}`, { repository: `${options.registryHost}/bench/${app}`, path: 'manifests', namespace, wait: false });
    await admin('PUT', `/v1/apps/${app}/environments/${environment}`, { track: '^1.0.0' });
    await admin('POST', `/v1/apps/${app}/releases`, { version: '1.0.0', digest });
    await admin('PUT', `/v1/clusters/${cluster}`, { environment, region: 'local', labels: {} });
    const { token } = await admin('POST', `/v1/clusters/${cluster}/registration-tokens`);

    const bundle = await buildAgent(join(dir, 'agent'));
    agent = spawn(options.node, [...AGENT_NODE_FLAGS, bundle.file], {
      env: {
        PATH: process.env['PATH'] ?? '',
        FLOTILLA_CONTROL_PLANE_URL: controlPlane.url,
        FLOTILLA_REGISTRATION_TOKEN: token,
        FLOTILLA_NAMESPACE: agentNamespace,
        FLOTILLA_LISTEN_PORT: '0',
        FLOTILLA_LOG_LEVEL: 'warn',
        KUBECONFIG: options.kubeconfig,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const pid = agent.pid!;
    const exited = new Promise<number | null>((resolve) => agent!.once('exit', resolve));

    await until(180, 'the agent reported the app Ready', async () => {
      const view = await admin('GET', `/v1/clusters/${cluster}`);
      return view.apps?.[app]?.phase === 'Ready' ? true : undefined;
    });
    // The first full check is done and the watches are open.
    await sleep(5_000);

    const before = await requestCounts(kubectl);
    await sleep(options.quietSeconds * 1000);
    const after = await requestCounts(kubectl);
    const requests: Record<string, number> = {};
    for (const [key, count] of after) if (count - (before.get(key) ?? 0) > 0) requests[key] = count - (before.get(key) ?? 0);
    const total = Object.values(requests).reduce((sum, count) => sum + count, 0);
    const applies = Object.entries(requests).filter(([key]) => key.startsWith('APPLY ')).reduce((sum, [, count]) => sum + count, 0);

    // kubectl edit, with an editor that changes one label of the object as a person would.
    const configMaps = objects.filter((object) => object['kind'] === 'ConfigMap').slice(0, options.edits);
    const revertSeconds: number[] = [];
    for (const object of configMaps) {
      const name = (object['metadata'] as { name: string }).name;
      const output = await kubectl(['edit', '-n', namespace, 'configmap', name], { KUBE_EDITOR: "sed -i -e 's/tier: bench/tier: edited/'" });
      const editedAt = performance.now();
      if (!output.includes('edited')) throw new Error(`kubectl edit changed nothing: ${output.trim()}`);
      await until(60, `${name} reverted`, async () => {
        const live = await client.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name });
        return live?.metadata.labels?.['tier'] === 'bench' ? true : undefined;
      }, 20);
      revertSeconds.push((performance.now() - editedAt) / 1000);
      await sleep(1_000);
    }

    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
    agent.kill('SIGTERM');
    await exited;
    agent = undefined;
    return {
      objectCount: objects.length,
      quietSeconds: options.quietSeconds,
      requests,
      requestsPerObjectHour: (total * 3600) / options.quietSeconds / objects.length,
      steadyPerObjectHour: ((total - applies) * 3600) / options.quietSeconds / objects.length,
      revertSeconds,
      peakRssMiB: peakKiB / 1024,
    };
  } finally {
    agent?.kill('SIGKILL');
    for (const name of [namespace, agentNamespace]) await client.request('DELETE', `/api/v1/namespaces/${name}`, { allowStatus: [404] });
    client.close();
    await controlPlane.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
