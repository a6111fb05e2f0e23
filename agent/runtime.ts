// Wiring: builds the agent and its parts from one configuration, for main.ts and for tests that
// run the real loop against a real apiserver, registry and control plane.
import { pullArtifact } from '../lib/oci/artifact.ts';
import type { CredentialResolver } from '../lib/oci/auth.ts';
import { RegistryClient } from '../lib/oci/client.ts';
import { Agent } from './agent.ts';
import type { ArtifactPuller } from './artifact.ts';
import { ControlPlaneClient } from './control-plane.ts';
import { InventoryStore } from './inventory.ts';
import type { KustomizeOptions } from './kustomize.ts';
import type { KubeClient } from './kube/client.ts';
import type { Logger } from './log.ts';
import { Metrics } from './metrics.ts';
import { Reconciler } from './reconciler.ts';
import { registryVerifier } from './verify.ts';
import { AgentStateStore } from './state.ts';
import { ObjectWatcher, type WatcherOptions } from './watch.ts';

export interface AgentConfig {
  kube: KubeClient;
  /** Where the agent keeps its identity, desired state and inventories. */
  namespace: string;
  controlPlaneUrl: string;
  registrationToken?: string;
  registryCredentials?: CredentialResolver;
  /** Plain HTTP registries (default: loopback only). */
  plainHttpRegistries?: boolean;
  intervalMs?: number;
  logger: Logger;
  healthBudgetMs?: number;
  fetchBackoff?: { baseMs: number; maxMs: number };
  /** kustomize for apps holding a kustomization; without a binary such apps fail with BuildFailed. */
  kustomize?: KustomizeOptions;
  /** Watch the apps' objects and revert drift within seconds (main.ts: on unless FLOTILLA_WATCH=false; off by default here). */
  watch?: boolean | Partial<Omit<WatcherOptions, 'client' | 'logger' | 'metrics' | 'onDrift'>>;
  /** The full check's interval for watched apps (FLOTILLA_RESYNC_SECONDS). */
  resyncMs?: number;
}

/** A pull that trickles bytes must not stall every app behind it: each pull has a deadline. */
const PULL_TIMEOUT_MS = 5 * 60_000;

export function registryPuller(client: RegistryClient, timeoutMs = PULL_TIMEOUT_MS): ArtifactPuller {
  return async (repository, digest) =>
    (await pullArtifact(client, repository, digest, {}, { signal: AbortSignal.timeout(timeoutMs) })).files;
}

export function buildAgent(config: AgentConfig): { agent: Agent; metrics: Metrics; reconciler: Reconciler; store: AgentStateStore; watcher?: ObjectWatcher } {
  const metrics = new Metrics();
  let agent: Agent | undefined;
  const watcher = config.watch
    ? new ObjectWatcher({
        ...(config.watch === true ? {} : config.watch),
        client: config.kube,
        logger: config.logger,
        metrics,
        onDrift: (app) => void agent?.reconcileDrifted(app).catch((error: unknown) => config.logger.error('drift reconcile failed', { app, error: String(error) })),
      })
    : undefined;
  // A short in-cycle retry; longer outages are handled by the reconciler's backoff across cycles.
  const registry = new RegistryClient({
    credentials: config.registryCredentials,
    plainHttp: config.plainHttpRegistries,
    retry: { maxRetries: 2, baseDelayMs: 200, maxDelayMs: 2_000 },
    userAgent: 'flotilla-agent',
  });
  const reconciler = new Reconciler({
    client: config.kube,
    inventory: new InventoryStore(config.kube, config.namespace),
    pull: registryPuller(registry),
    verify: registryVerifier(registry),
    logger: config.logger,
    metrics,
    healthBudgetMs: config.healthBudgetMs,
    fetchBackoff: config.fetchBackoff,
    kustomize: config.kustomize,
    onInventory: watcher ? (app, entries) => watcher.track(app, entries) : undefined,
  });
  const store = new AgentStateStore(config.kube, config.namespace);
  agent = new Agent({
    store,
    controlPlane: new ControlPlaneClient(config.controlPlaneUrl),
    reconciler,
    logger: config.logger,
    metrics,
    registrationToken: config.registrationToken,
    intervalMs: config.intervalMs,
    watcher,
    resyncMs: config.resyncMs,
  });
  return { agent, metrics, reconciler, store, watcher };
}
