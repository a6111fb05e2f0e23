// Keeps the precomputed desired entries fresh: every write that can change what a cluster runs
// calls refresh for the (app, environment) pairs it touched.
import type { Store } from '../storage/store.ts';
import { buildDesiredEntry } from './resolve.ts';

export async function refreshDesired(store: Store, app: string, environments?: string[]): Promise<void> {
  const targets = environments ?? (await store.listPolicies(app)).map((policy) => policy.environment);
  await Promise.all(
    targets.map(async (environment) => {
      const rev = await store.bumpDesiredRevision(environment, app);
      // Read after announcing the revision, strongly consistent, so this rebuild sees every write before it.
      const [spec, policy, releases, pins] = await Promise.all([
        store.getApp(app, true),
        store.getPolicy(app, environment, true),
        store.listReleases(app, true),
        store.listPins(app, environment),
      ]);
      await store.putDesiredEntry(environment, app, rev, buildDesiredEntry(spec, policy, releases, pins));
    }),
  );
}
