// The resource manager: server-side apply, diff, prune and health for a set of objects, in the
// style of fluxcd/pkg `ssa`. Each verb lives in its own file and takes an options object with
// defaults; the manager binds them to one client, field manager and set of owner labels.
import type { KubeClient, KubeObject } from '../kube/client.ts';
import { applyAllStaged, type ApplyOptions, type ApplyResult } from './apply.ts';
import { deleteAll } from './delete.ts';
import type { ChangeSetEntry } from './changeset.ts';
import type { ObjectRef } from './objects.ts';
import { waitForSet, type WaitOptions, type WaitResult } from './wait.ts';

export const FIELD_MANAGER = 'flotilla-agent';

export interface ManagerContext {
  client: KubeClient;
  fieldManager: string;
  /** Labels stamped on every applied object and required on every pruned one. */
  ownerLabels: Record<string, string>;
  /** Requests in flight at once. */
  concurrency: number;
}

export interface ManagerOptions {
  fieldManager?: string;
  ownerLabels: Record<string, string>;
  concurrency?: number;
}

export class ResourceManager {
  readonly context: ManagerContext;

  constructor(client: KubeClient, options: ManagerOptions) {
    this.context = {
      client,
      fieldManager: options.fieldManager ?? FIELD_MANAGER,
      ownerLabels: options.ownerLabels,
      concurrency: options.concurrency ?? 10,
    };
  }

  /** CRDs and Namespaces first (waited on), then the rest in kind order; unchanged objects are not written. */
  applyAllStaged(objects: KubeObject[], options: Partial<ApplyOptions> = {}): Promise<ApplyResult> {
    return applyAllStaged(this.context, objects, options);
  }

  deleteAll(refs: ObjectRef[]): Promise<ChangeSetEntry[]> {
    return deleteAll(this.context, refs);
  }

  waitForSet(refs: ObjectRef[], options: Partial<WaitOptions> = {}): Promise<WaitResult> {
    return waitForSet(this.context.client, refs, options);
  }
}
