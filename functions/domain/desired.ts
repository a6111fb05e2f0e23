// Keeps the precomputed desired entries fresh: every write that can change what a cluster runs
// calls refresh for the (app, environment) pairs it touched.
import type { Storage } from '../storage/index.ts';
import { buildDesiredEntry } from './resolve.ts';
import { valuesForEnvironment } from './variables.ts';

export async function refreshDesired(storage: Storage, app: string, environments?: string[]): Promise<void> {
  const targets = environments ?? (await storage.environments.listPolicies(app)).map((policy) => policy.environment);
  await Promise.all(
    targets.map(async (environment) => {
      const rev = await storage.desired.bumpRevision(environment, app);
      // Read after announcing the revision, strongly consistent, so this rebuild sees every write before it.
      const [spec, policy, releases, records, values] = await Promise.all([
        storage.apps.get(app, true),
        storage.environments.getPolicy(app, environment, true),
        storage.apps.listReleases(app, true),
        storage.promotions.all(app, environment),
        storage.values.get(app, true),
      ]);
      const entry = buildDesiredEntry(spec, policy, releases, records);
      const scoped = entry && valuesForEnvironment(values, environment);
      await storage.desired.put(environment, app, rev, entry && scoped ? { ...entry, values: scoped } : entry);
    }),
  );
}
