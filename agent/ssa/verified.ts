// What the last plan of each object found, keyed by the live resourceVersion it was planned against.
// Every write to an object changes its resourceVersion and a dry-run writes nothing, so while the
// listed resourceVersion and the desired object are both the same as when an object was last
// dry-run (or applied), a new dry-run would find exactly what that one found. Such objects are not
// dry-run again: a full check of an unchanged app costs its LIST pages instead of a request per
// object, and a watch event reconciles only the objects that changed (README, "Drift in seconds").
// One per app (the reconciler keeps them), holding only the app's current objects.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/client.ts';
import type { ChangeSetEntry } from './changeset.ts';
import { inventoryIdOf } from './objects.ts';

interface Verified {
  resourceVersion: string;
  desired: string;
  entry: ChangeSetEntry;
}

export class VerifiedObjects {
  private entries = new Map<string, Verified>();

  /** The fingerprint of a prepared object: what it asks the apiserver for, labels and namespace included. */
  static fingerprint(object: KubeObject): string {
    return createHash('sha256').update(JSON.stringify(object)).digest('base64');
  }

  /** The entry of the last plan, when `live` and `desired` are as they were then. */
  lookup(desired: string, live: KubeObject | undefined): ChangeSetEntry | undefined {
    if (!live?.metadata.resourceVersion) return undefined;
    const verified = this.entries.get(inventoryIdOf(live));
    return verified && verified.resourceVersion === live.metadata.resourceVersion && verified.desired === desired ? verified.entry : undefined;
  }

  record(object: KubeObject, desired: string, resourceVersion: string | undefined, entry: ChangeSetEntry): void {
    if (resourceVersion) this.entries.set(inventoryIdOf(object), { resourceVersion, desired, entry });
    else this.entries.delete(inventoryIdOf(object));
  }

  forget(object: KubeObject): void {
    this.entries.delete(inventoryIdOf(object));
  }

  /** Drops every object not in `current` (an app's set changed, or objects left it). */
  keepOnly(current: KubeObject[]): void {
    const ids = new Set(current.map(inventoryIdOf));
    for (const id of this.entries.keys()) if (!ids.has(id)) this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
