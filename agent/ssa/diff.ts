// Diff: a server-side dry-run apply compared with the live object. The dry-run result is what the
// object would become, so a difference is exactly what a real apply would change.
import type { KubeObject } from '../kube/client.ts';
import { entryFor, type ChangeSetEntry } from './changeset.ts';
import type { ManagerContext } from './context.ts';
import { OwnershipConflictError } from './errors.ts';
import { driftedFields } from './normalize.ts';
import { refOf, type ObjectRef } from './objects.ts';

export interface DiffResult {
  /** created (absent), configured (with the fields that differ) or unchanged. */
  entry: ChangeSetEntry;
  live: KubeObject | null;
  dryRun: KubeObject;
}

/**
 * `object` must be prepared (owner labels stamped, namespace resolved); apiserver errors are thrown.
 * `knownLive` is the object as the caller already listed it, if it did.
 */
export async function diffObject(context: ManagerContext, object: KubeObject, knownLive?: KubeObject): Promise<DiffResult> {
  const ref = refOf(object);
  const dryRunApply = () => context.client.apply(object, { fieldManager: context.fieldManager, force: true, dryRun: true });
  let dryRun = await dryRunApply();
  // A dry-run create has no resourceVersion: the object does not exist, no need to read it.
  if (!dryRun.metadata.resourceVersion) return { entry: entryFor(ref, 'created'), live: null, dryRun };
  // A dry-run does not bump resourceVersion: a different one means the object was written after it
  // was listed (e.g. a controller's revision annotation), and the listed copy is stale.
  const live = knownLive?.metadata.resourceVersion === dryRun.metadata.resourceVersion ? knownLive : await context.client.get(ref);
  if (!live) return { entry: entryFor(ref, 'created'), live: null, dryRun };
  // Unlabelled objects are adopted (as Flux does); one labelled for another owner is refused.
  for (const [label, value] of Object.entries(context.ownerLabels)) {
    const other = live.metadata.labels?.[label];
    if (other !== undefined && other !== value) {
      throw new OwnershipConflictError(`already managed with ${label}=${other}; two apps may not declare the same object`);
    }
  }
  if (live.metadata.resourceVersion !== dryRun.metadata.resourceVersion) {
    // Written between the dry-run and the read: dry-run once more against what was read.
    dryRun = await dryRunApply();
  }
  return compared(ref, live, dryRun);
}

function compared(ref: ObjectRef, live: KubeObject, dryRun: KubeObject): DiffResult {
  const fields = driftedFields(live, dryRun);
  if (fields.length === 0) return { entry: entryFor(ref, 'unchanged'), live, dryRun };
  return { entry: entryFor(ref, 'configured', { fields }), live, dryRun };
}
