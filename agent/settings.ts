// Every environment variable the agent reads, parsed once at start (lib/settings.ts). A bad or
// missing one stops the agent before it does anything, with one message naming them all.
import { z } from 'zod';
import { boolSetting, portSetting, urlSetting } from '../lib/settings.ts';

export const AgentSettings = z.object({
  /** Control plane base URL. */
  FLOTILLA_CONTROL_PLANE_URL: urlSetting,
  /** One-time registration token, needed only for the first start; or a file holding it. */
  FLOTILLA_REGISTRATION_TOKEN: z.string().optional(),
  FLOTILLA_REGISTRATION_TOKEN_FILE: z.string().optional(),
  /** Where the agent keeps its Secret, state and inventories (default: the service account's namespace, else flotilla-system). */
  FLOTILLA_NAMESPACE: z.string().optional(),
  /** Overrides the check-in interval the control plane asks for. */
  FLOTILLA_INTERVAL_SECONDS: z.coerce.number({ message: 'must be a number' }).positive('must be a positive number').optional(),
  /** Watch the objects the agent owns and revert drift within seconds; false leaves drift to the full check of every loop. */
  FLOTILLA_WATCH: boolSetting.default(true),
  /** How often apps whose objects are all watched get the full check (a dry-run of every object), in seconds: 30 s to a day. */
  FLOTILLA_RESYNC_SECONDS: z.coerce
    .number({ message: 'must be a number' })
    .min(30, 'must be at least 30 (seconds)')
    .max(86_400, 'must be at most 86400 (a day)')
    .default(300),
  /** Port of /metrics and /healthz. */
  FLOTILLA_LISTEN_PORT: portSetting.default(8080),
  FLOTILLA_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error'], { message: 'must be debug, info, warn or error' }).default('info'),
  /** Pull over plain HTTP from every registry; false leaves it to loopback registries only. */
  FLOTILLA_PLAIN_HTTP_REGISTRIES: boolSetting.default(false),
  /** The kustomize binary for apps whose path holds a kustomization (default: `kustomize` next to the agent's script, as in the image). */
  FLOTILLA_KUSTOMIZE: z.string().min(1, 'must be a path').optional(),
  /** Directory of a config.json with registry credentials. */
  DOCKER_CONFIG: z.string().optional(),
  /** A kubeconfig file; without it the in-cluster service account is used. */
  KUBECONFIG: z.string().optional(),
});

export type AgentSettings = z.output<typeof AgentSettings>;
