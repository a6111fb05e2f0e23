// dependsOn at the API: every named app exists, and the graph stays acyclic (checked against the
// stored apps on every create and update, like environments' upstreams).
//
// Limits, by design: the check reads the reachable apps one strongly consistent point read each,
// level by level (one round of parallel reads per level), at most MAX_APPS_FOLLOWED reads per PUT.
// It is not transactional: two concurrent PUTs can each pass and together close a cycle, and a
// dependency may stop resolving later. The agent copes with both: dependencyOrder puts the apps of a
// cycle last, and an app whose dependency is not desired or never Ready waits (DependencyNotReady)
// with nothing applied — so a cycle or a missing dependency stalls only the apps involved.
import { cycleThrough } from '../../lib/api/dependencies.ts';
import type { Services } from '../context.ts';
import { badRequest } from '../errors.ts';

/** Apps read while following dependencies before giving up (a graph this large is refused). */
const MAX_APPS_FOLLOWED = 1000;

export async function checkDependencies(services: Services, name: string, dependsOn: readonly string[]): Promise<void> {
  if (dependsOn.length === 0) return;
  if (dependsOn.includes(name)) throw badRequest(`body.dependsOn: ${name} cannot depend on itself (cycle ${name} → ${name})`);
  // Every app reachable from the new dependencies, read level by level, strongly consistent.
  const edges = new Map<string, readonly string[]>([[name, dependsOn]]);
  const unknown: string[] = [];
  let frontier = [...dependsOn];
  while (frontier.length > 0) {
    if (edges.size + frontier.length > MAX_APPS_FOLLOWED) {
      throw badRequest(`body.dependsOn: the dependencies reach more than ${MAX_APPS_FOLLOWED} apps`);
    }
    const found = await Promise.all(frontier.map((app) => services.storage.apps.get(app, true)));
    const next = new Set<string>();
    frontier.forEach((app, index) => {
      const stored = found[index];
      if (!stored) {
        if (dependsOn.includes(app)) unknown.push(app);
        edges.set(app, []);
        return;
      }
      const deps = stored.dependsOn ?? [];
      edges.set(app, deps);
      for (const dep of deps) if (!edges.has(dep)) next.add(dep);
    });
    frontier = [...next];
  }
  if (unknown.length > 0) throw badRequest(`body.dependsOn: unknown app${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  const cycle = cycleThrough(name, (app) => edges.get(app) ?? []);
  if (cycle) throw badRequest(`body.dependsOn: would make a dependency cycle ${cycle.join(' → ')}`);
}
