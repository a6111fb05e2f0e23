// Fixtures shared by the agent's per-app pipeline tests (reconciler.test.ts, dependencies.test.ts):
// a Reconciler against the test cluster, a desired app pinned to a digest, a ConfigMap manifest.
import type { DesiredApp } from '../../lib/api/schemas.ts';
import { RegistryClient } from '../../lib/oci/client.ts';
import { InventoryStore } from '../../agent/inventory.ts';
import { jsonLogger } from '../../agent/log.ts';
import { Metrics } from '../../agent/metrics.ts';
import { Reconciler, type ReconcilerOptions } from '../../agent/reconciler.ts';
import { registryPuller } from '../../agent/runtime.ts';
import type { AgentTestCluster } from './cluster.ts';

/** A Reconciler on the test cluster, inventory in `agentNamespace`, no pull retries, silent logs. */
export function testReconciler(cluster: AgentTestCluster, agentNamespace: string, options: Partial<ReconcilerOptions> & { healthBudgetMs: number }): Reconciler {
  return new Reconciler({
    client: cluster.client,
    inventory: new InventoryStore(cluster.client, agentNamespace),
    pull: registryPuller(new RegistryClient({ retry: { maxRetries: 0 } })),
    logger: jsonLogger({ level: 'error', write: () => {} }),
    metrics: new Metrics(),
    ...options,
  });
}

/** A desired app at `repository` (prune, wait 60s, not suspended), with `extra` on top. */
export function testDesiredApp(repository: string, namespace: string, name: string, version: string, digest: string, extra: Partial<DesiredApp> = {}): DesiredApp {
  return {
    name,
    version,
    digest,
    repository,
    path: '.',
    namespace,
    prune: true,
    wait: true,
    timeoutSeconds: 60,
    recreate: false,
    suspended: false,
    ...extra,
  };
}

/** A ConfigMap manifest with `data.value`, optionally namespaced. */
export const configMapYaml = (name: string, data: string, namespace?: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${namespace ? `  namespace: ${namespace}\n` : ''}data: {value: "${data}"}\n`;
