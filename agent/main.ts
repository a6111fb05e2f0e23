// Entry point of the in-cluster agent, configured by environment variables (settings.ts). Bad
// settings exit with code 2 and one line on stderr; revocation and bootstrap failures exit with 1.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { readDockerCredentials } from '../lib/oci/docker-config.ts';
import { SettingsError, parseSettings } from '../lib/settings.ts';
import { sleep } from '../lib/sleep.ts';
import { RevokedError, type Agent } from './agent.ts';
import { ControlPlaneError } from './control-plane.ts';
import { KubeClient } from './kube/client.ts';
import { kustomizeBinary } from './kustomize.ts';
import { jsonLogger, type Logger } from './log.ts';
import { buildAgent } from './runtime.ts';
import { startOpsServer } from './server.ts';
import { AgentSettings } from './settings.ts';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function settingsOrExit(): AgentSettings {
  try {
    return parseSettings('flotilla-agent', AgentSettings);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    // The message names every bad setting; a stack trace would only bury it.
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
}

async function agentNamespace(configured: string | undefined): Promise<string> {
  if (configured) return configured;
  return existsSync(SERVICE_ACCOUNT_NAMESPACE) ? (await readFile(SERVICE_ACCOUNT_NAMESPACE, 'utf8')).trim() : 'flotilla-system';
}

async function optionalFile(path: string | undefined): Promise<string | undefined> {
  return path ? (await readFile(path, 'utf8')).trim() : undefined;
}

/** Registration waits out a control plane that is not reachable yet; any other bootstrap error is final. */
async function startWithRetries(agent: Agent, logger: Logger): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await agent.start();
      return;
    } catch (error) {
      if (!(error instanceof ControlPlaneError && error.transient)) throw error;
      const delayMs = Math.min(1000 * 2 ** attempt, 60_000);
      logger.warn('control plane not reachable for registration; retrying', { error: error.message, retryInSeconds: delayMs / 1000 });
      await sleep(delayMs);
    }
  }
}

async function main(settings: AgentSettings): Promise<void> {
  const logger = jsonLogger({ level: settings.FLOTILLA_LOG_LEVEL, base: { component: 'flotilla-agent' } });
  const controlPlaneUrl = settings.FLOTILLA_CONTROL_PLANE_URL;
  const namespace = await agentNamespace(settings.FLOTILLA_NAMESPACE);
  const intervalSeconds = settings.FLOTILLA_INTERVAL_SECONDS;

  const kube = await KubeClient.create(settings.KUBECONFIG);
  // The image ships kustomize next to the bundle; without one only kustomization apps fail.
  const kustomize = kustomizeBinary(settings.FLOTILLA_KUSTOMIZE, process.argv[1]);
  const { agent, metrics } = buildAgent({
    kube,
    namespace,
    controlPlaneUrl,
    registrationToken: settings.FLOTILLA_REGISTRATION_TOKEN ?? (await optionalFile(settings.FLOTILLA_REGISTRATION_TOKEN_FILE)),
    registryCredentials: settings.DOCKER_CONFIG ? await readDockerCredentials(`${settings.DOCKER_CONFIG}/config.json`) : undefined,
    // Unset (not false) keeps the registry client's default: plain HTTP for loopback registries.
    plainHttpRegistries: settings.FLOTILLA_PLAIN_HTTP_REGISTRIES || undefined,
    intervalMs: intervalSeconds === undefined ? undefined : intervalSeconds * 1000,
    logger,
    kustomize: { binary: kustomize },
    watch: settings.FLOTILLA_WATCH,
    resyncMs: settings.FLOTILLA_RESYNC_SECONDS * 1000,
  });
  const maxLoopAgeMs = Math.max(10 * 60_000, (intervalSeconds ?? 30) * 1000 * 10);
  const { server } = await startOpsServer({ metrics, health: agent, maxLoopAgeMs, port: settings.FLOTILLA_LISTEN_PORT });
  logger.info('agent starting', { namespace, controlPlaneUrl, apiserver: kube.serverUrl, kustomize: kustomize ?? null, watch: settings.FLOTILLA_WATCH, resyncSeconds: settings.FLOTILLA_RESYNC_SECONDS });

  function shutdown(signal: NodeJS.Signals): void {
    logger.info('shutting down', { signal });
    agent.stop();
  }
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  try {
    await startWithRetries(agent, logger);
    await agent.run();
  } catch (error) {
    // Revocation and bootstrap failures are final: exit non-zero so the Pod's status shows it.
    logger.error(error instanceof RevokedError ? 'agent stopped: cluster revoked' : 'agent stopped', {
      error: error instanceof Error ? error.message : String(error),
    });
    process.exitCode = 1;
  } finally {
    server.close();
    kube.close();
  }
}

await main(settingsOrExit());
