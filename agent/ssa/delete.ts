// Delete (prune): removes objects that left the desired set. An object is deleted only when it still
// carries every owner label of the app, so something another tool or app adopted is left alone.
import { isNotFound } from '../kube/client.ts';
import { entryFor, type ChangeSetEntry } from './changeset.ts';
import type { ManagerContext } from './context.ts';
import { mapLimit } from './limit.ts';
import type { ObjectRef } from './objects.ts';
import { rankOf } from './sort.ts';

/** Deletes in reverse kind order so workloads go before the Namespaces and CRDs they depend on. */
export async function deleteAll(context: ManagerContext, refs: ObjectRef[]): Promise<ChangeSetEntry[]> {
  const ranks = [...new Set(refs.map(rankOf))].sort((a, b) => b - a);
  const entries: ChangeSetEntry[] = [];
  for (const rank of ranks) {
    const batch = refs.filter((ref) => rankOf(ref) === rank);
    entries.push(...(await mapLimit(batch, context.concurrency, (ref) => deleteOwned(context, ref))));
  }
  return entries;
}

async function deleteOwned(context: ManagerContext, ref: ObjectRef): Promise<ChangeSetEntry> {
  let live;
  try {
    live = await context.client.get(ref);
  } catch (error) {
    // The kind itself is gone (its CRD was deleted), and with it every object of that kind.
    if (isNotFound(error)) return entryFor(ref, 'deleted', { message: 'already gone' });
    throw error;
  }
  if (!live) return entryFor(ref, 'deleted', { message: 'already gone' });
  const labels = live.metadata.labels ?? {};
  const foreign = Object.entries(context.ownerLabels).some(([name, value]) => labels[name] !== value);
  if (foreign) return entryFor(ref, 'skipped', { message: 'not deleted: it does not carry the owner labels' });
  await context.client.delete(ref);
  return entryFor(ref, 'deleted');
}
