// Test access to a real kube-apiserver: one of the shared clusters of the test environment
// (test/env), or, when a suite runs outside it, the kubeconfig in FLOTILLA_TEST_KUBECONFIG.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { KubeClient } from '../../agent/kube/client.ts';

const execFileAsync = promisify(execFile);

export interface AgentTestCluster {
  name: string;
  kubeconfigPath: string;
  client: KubeClient;
  /** Runs the real kubectl against this cluster; resolves with stdout. */
  kubectl(args: string[], options?: { env?: Record<string, string>; input?: string }): Promise<string>;
}

export async function connectTestCluster(name = 'dev'): Promise<AgentTestCluster> {
  const env = inject('testEnv');
  const cluster = env?.clusters.find((candidate) => candidate.name === name);
  const kubeconfigPath = cluster?.kubeconfigPath ?? process.env['FLOTILLA_TEST_KUBECONFIG'];
  if (!kubeconfigPath) {
    throw new Error(`no test cluster ${name}: run under the test environment (test/env) or set FLOTILLA_TEST_KUBECONFIG`);
  }
  const kubectlPath = env?.bin.kubectl ?? 'kubectl';
  const client = await KubeClient.create(kubeconfigPath);
  return {
    name,
    kubeconfigPath,
    client,
    async kubectl(args, options = {}) {
      const child = execFileAsync(kubectlPath, ['--kubeconfig', kubeconfigPath, ...args], {
        env: { ...process.env, ...options.env },
        maxBuffer: 64 * 1024 * 1024,
      });
      if (options.input !== undefined) {
        child.child.stdin?.end(options.input);
      }
      return (await child).stdout;
    },
  };
}

/** A name no other test file (or earlier run) uses: `<prefix>-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export async function createNamespace(cluster: AgentTestCluster, name: string): Promise<void> {
  await cluster.client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
}

export async function deleteNamespace(cluster: AgentTestCluster, name: string): Promise<void> {
  await cluster.client.request('DELETE', `/api/v1/namespaces/${name}`, { allowStatus: [404] });
}

/** `host:port` of the anonymous registry of the test environment, or FLOTILLA_TEST_REGISTRY outside it. */
export function testRegistryHost(): string {
  const host = inject('testEnv')?.registries.anonymous.host ?? process.env['FLOTILLA_TEST_REGISTRY'];
  if (!host) throw new Error('no test registry: run under the test environment (test/env) or set FLOTILLA_TEST_REGISTRY');
  return host;
}
