// The resource manager: server-side apply, prune and health for a set of objects, in the style of
// fluxcd/pkg `ssa`. Each verb lives in its own file and takes an options object with defaults; the
// manager binds them to one context (client, field manager, owner labels).
import { MAX_SOCKETS, type KubeClient, type KubeObject } from '../kube/client.ts';
import { FIELD_MANAGER } from '../ownership.ts';
import { applyAllStaged, type ApplyOptions, type ApplyResult } from './apply.ts';
import type { ChangeSetEntry } from './changeset.ts';
import type { ManagerContext } from './context.ts';
import { deleteAll } from './delete.ts';
import type { ObjectRef } from './objects.ts';
import type { VerifiedObjects } from './verified.ts';
import { waitForSet, type WaitOptions, type WaitResult } from './wait.ts';

export interface ManagerOptions {
  fieldManager?: string;
  ownerLabels: Record<string, string>;
  concurrency?: number;
  /** Kept by the caller across applies of the same set (one per app). */
  verified?: VerifiedObjects;
}

/** Requests in flight per verb: one for each keep-alive socket of the client. */
const DEFAULT_CONCURRENCY = MAX_SOCKETS;

export class ResourceManager {
  readonly context: ManagerContext;

  constructor(client: KubeClient, options: ManagerOptions) {
    this.context = {
      client,
      fieldManager: options.fieldManager ?? FIELD_MANAGER,
      ownerLabels: options.ownerLabels,
      concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
      verified: options.verified,
    };
  }

  /** CRDs and Namespaces first (waited on), then the rest in kind order; unchanged objects are not written. */
  applyAllStaged(objects: KubeObject[], options: Partial<ApplyOptions> = {}): Promise<ApplyResult> {
    return applyAllStaged(this.context, objects, options);
  }

  /** Prune: deletes the objects that still carry the owner labels, in reverse kind order. */
  deleteAll(refs: ObjectRef[]): Promise<ChangeSetEntry[]> {
    return deleteAll(this.context, refs);
  }

  /** Health: polls until every object is Ready, one has Failed, or the timeout passes. */
  waitForSet(refs: ObjectRef[], options: Partial<WaitOptions> = {}): Promise<WaitResult> {
    return waitForSet(this.context, refs, options);
  }
}
