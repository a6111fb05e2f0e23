// Diff: a server-side dry-run apply compared with the live object. The dry-run result is what the
// object would become, so a difference is exactly what a real apply would change.
import type { KubeObject } from '../kube/client.ts';
import { entryFor, type ChangeSetEntry } from './changeset.ts';
import type { ManagerContext } from './manager.ts';
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
 * `knownLive` saves the GET when the caller already listed the object.
 */
export async function diffObject(context: ManagerContext, object: KubeObject, knownLive?: KubeObject): Promise<DiffResult> {
  const [live, dryRun] = await Promise.all([
    knownLive ?? context.client.get(refOf(object)),
    context.client.apply(object, { fieldManager: context.fieldManager, force: true, dryRun: true }),
  ]);
  const ref = refOf(object);
  if (!live) return { entry: entryFor(ref, 'created'), live, dryRun };
  // A dry-run does not bump resourceVersion: a different one means a controller wrote the object
  // after it was read (e.g. a Deployment's revision annotation), and the read is stale.
  if (live.metadata.resourceVersion !== dryRun.metadata.resourceVersion) {
    const current = await context.client.get(ref);
    if (current) return compared(ref, current, dryRun);
  }
  return compared(ref, live, dryRun);
}

function compared(ref: ObjectRef, live: KubeObject, dryRun: KubeObject): DiffResult {
  const fields = driftedFields(live, dryRun);
  if (fields.length === 0) return { entry: entryFor(ref, 'unchanged'), live, dryRun };
  return { entry: entryFor(ref, 'configured', { fields }), live, dryRun };
}
