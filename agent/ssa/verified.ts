// What the last plan of each object found, keyed by the live resourceVersion it was planned against.
// Every write to an object changes its resourceVersion and a dry-run writes nothing, so while the
// listed resourceVersion and the desired object are both the same as when an object was last
// dry-run (or applied), a new dry-run would find exactly what that one found. So does an object
// whose resourceVersion moved but whose compared content (normalize.ts: all but status and the
// server's metadata) hashes the same, as after a controller's status write. Such objects are not
// dry-run again: a full check of an unchanged app costs its LIST pages instead of a request per
// object, and a watch event reconciles only the objects that changed (README, "Drift in seconds").
// One per app (the reconciler keeps them), holding only the app's current objects.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/client.ts';
import type { ChangeSetEntry } from './changeset.ts';
import { normalizeForDiff } from './normalize.ts';
import { inventoryIdOf } from './objects.ts';

function sortedKeys(_key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

interface Verified {
  resourceVersion: string;
  /** fingerprint of the live object's compared content. */
  live: string;
  desired: string;
  entry: ChangeSetEntry;
}

export class VerifiedObjects {
  private entries = new Map<string, Verified>();

  /** A hash of an object's content whatever the order of its keys (a LIST and a PATCH answer differ). */
  static fingerprint(object: unknown): string {
    return createHash('sha256').update(JSON.stringify(object, sortedKeys)).digest('base64');
  }

  /** The entry of the last plan, when `live` (as listed) and `desired` are as they were then. */
  lookup(desired: string, live: KubeObject | undefined): ChangeSetEntry | undefined {
    const resourceVersion = live?.metadata.resourceVersion;
    if (!live || !resourceVersion) return undefined;
    const verified = this.entries.get(inventoryIdOf(live));
    if (!verified || verified.desired !== desired) return undefined;
    if (verified.resourceVersion === resourceVersion) return verified.entry;
    if (verified.live !== VerifiedObjects.fingerprint(normalizeForDiff(live))) return undefined;
    verified.resourceVersion = resourceVersion;
    return verified.entry;
  }

  /** What planning (or writing) `object` found, against `live` as it then was (null: it does not exist). */
  record(object: KubeObject, desired: string, live: KubeObject | null | undefined, entry: ChangeSetEntry): void {
    const resourceVersion = live?.metadata.resourceVersion;
    if (!live || !resourceVersion) {
      this.entries.delete(inventoryIdOf(object));
      return;
    }
    this.entries.set(inventoryIdOf(object), { resourceVersion, live: VerifiedObjects.fingerprint(normalizeForDiff(live)), desired, entry });
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
