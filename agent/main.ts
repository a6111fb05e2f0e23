// Entry point of the in-cluster agent, configured by environment variables:
//   FLOTILLA_CONTROL_PLANE_URL    control plane base URL (required)
//   FLOTILLA_REGISTRATION_TOKEN   one-time token for the first start (or FLOTILLA_REGISTRATION_TOKEN_FILE)
//   FLOTILLA_NAMESPACE            namespace for the agent's Secret, state and inventories
//                                 (default: the service account's namespace, else flotilla-system)
//   FLOTILLA_INTERVAL_SECONDS     overrides the check-in interval the control plane asks for
//   FLOTILLA_LISTEN_PORT          port of /metrics and /healthz (default 8080)
//   FLOTILLA_LOG_LEVEL            debug | info | warn | error (default info)
//   FLOTILLA_PLAIN_HTTP_REGISTRIES  "true" to pull over plain HTTP (default: loopback registries only)
//   DOCKER_CONFIG                 directory of a config.json with registry credentials (optional)
//   KUBECONFIG                    a kubeconfig file; without it the in-cluster service account is used
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { readDockerCredentials } from '../lib/oci/docker-config.ts';
import { sleep } from '../lib/sleep.ts';
import { RevokedError, type Agent } from './agent.ts';
import { ControlPlaneError } from './control-plane.ts';
import { KubeClient } from './kube/client.ts';
import { jsonLogger, type Logger, type LogLevel } from './log.ts';
import { buildAgent } from './runtime.ts';
import { startOpsServer } from './server.ts';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

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

async function main(): Promise<void> {
  const env = process.env;
  const logger = jsonLogger({ level: (env['FLOTILLA_LOG_LEVEL'] as LogLevel | undefined) ?? 'info', base: { component: 'flotilla-agent' } });
  const controlPlaneUrl = env['FLOTILLA_CONTROL_PLANE_URL'];
  if (!controlPlaneUrl) throw new Error('FLOTILLA_CONTROL_PLANE_URL is required');
  const namespace =
    env['FLOTILLA_NAMESPACE'] ||
    (existsSync(SERVICE_ACCOUNT_NAMESPACE) ? (await readFile(SERVICE_ACCOUNT_NAMESPACE, 'utf8')).trim() : 'flotilla-system');
  const intervalSeconds = env['FLOTILLA_INTERVAL_SECONDS'] ? Number(env['FLOTILLA_INTERVAL_SECONDS']) : undefined;
  if (intervalSeconds !== undefined && !(intervalSeconds > 0)) throw new Error('FLOTILLA_INTERVAL_SECONDS must be a positive number');

  const kube = await KubeClient.create(env['KUBECONFIG'] || undefined);
  const { agent, metrics } = buildAgent({
    kube,
    namespace,
    controlPlaneUrl,
    registrationToken: env['FLOTILLA_REGISTRATION_TOKEN'] || (await optionalFile(env['FLOTILLA_REGISTRATION_TOKEN_FILE'])),
    registryCredentials: env['DOCKER_CONFIG'] ? await readDockerCredentials(`${env['DOCKER_CONFIG']}/config.json`) : undefined,
    plainHttpRegistries: env['FLOTILLA_PLAIN_HTTP_REGISTRIES'] === 'true' ? true : undefined,
    intervalMs: intervalSeconds === undefined ? undefined : intervalSeconds * 1000,
    logger,
  });
  const maxLoopAgeMs = Math.max(10 * 60_000, (intervalSeconds ?? 30) * 1000 * 10);
  const { server } = await startOpsServer({ metrics, health: agent, maxLoopAgeMs, port: Number(env['FLOTILLA_LISTEN_PORT'] ?? 8080) });
  logger.info('agent starting', { namespace, controlPlaneUrl, apiserver: kube.serverUrl });

  const shutdown = (signal: string) => {
    logger.info('shutting down', { signal });
    agent.stop();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

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

await main();
