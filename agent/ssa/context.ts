// What every verb of the resource manager works with. The manager builds it once; each verb file
// (apply, diff, delete, wait) takes it as its first argument, so no verb depends on the manager.
import type { KubeClient } from '../kube/client.ts';
import type { VerifiedObjects } from './verified.ts';

export interface ManagerContext {
  client: KubeClient;
  fieldManager: string;
  /** Labels stamped on every applied object and required on every pruned one. */
  ownerLabels: Record<string, string>;
  /** Requests in flight at once. */
  concurrency: number;
  /** What earlier plans found, so unchanged objects are not dry-run again (verified.ts). */
  verified?: VerifiedObjects;
}
