// Ordering between apps (`dependsOn`) and the per-app drift mode, shared by the control plane (which
// refuses unknown names and cycles) and the agent (which applies dependencies first).
import { z } from '@hono/zod-openapi';

/** Apps one app may depend on. */
export const MAX_DEPENDS_ON = 16;

/** DNS label, as the app names it refers to (declared here to keep this module free of schemas.ts). */
const AppName = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase DNS label (a-z, 0-9, -; at most 63)')
  .refine((name) => !(name in Object.prototype) && name !== 'prototype', 'is a reserved word');

export const DependsOn = z
  .array(AppName)
  .max(MAX_DEPENDS_ON, `at most ${MAX_DEPENDS_ON} apps`)
  .refine((names) => new Set(names).size === names.length, 'names each app once')
  .openapi({
    description:
      'Apps (in the same cluster) this app depends on: the agent applies it only once each of them is Ready at its desired version, ' +
      'and reports DependencyNotReady until then. Unknown apps and cycles are a 400. Default: none.',
    example: ['cert-manager'],
  });

export const DriftMode = z.enum(['correct', 'report']).openapi({
  description:
    'correct (default): drift is reported and reverted. report: drift is reported (fields, before/after) but left in place; ' +
    'new desired versions are still applied (this is not suspension).',
  example: 'correct',
});
export type DriftMode = z.infer<typeof DriftMode>;

/**
 * A dependency cycle through `start`, as the path `start → … → start`, or null. `edges` gives each
 * app's dependencies (apps not in it have none).
 */
export function cycleThrough(start: string, edges: (app: string) => readonly string[]): string[] | null {
  const onPath: string[] = [];
  const done = new Set<string>();
  const visit = (app: string): string[] | null => {
    if (app === start && onPath.length > 0) return [...onPath, start];
    if (done.has(app) || onPath.includes(app)) return null;
    onPath.push(app);
    for (const next of edges(app)) {
      const found = visit(next);
      if (found) return found;
    }
    onPath.pop();
    done.add(app);
    return null;
  };
  return visit(start);
}

/**
 * The apps in dependency order (each after the apps it depends on that are in the list), otherwise
 * in their given order; apps of a cycle come last, in their given order.
 */
export function dependencyOrder<T extends { name: string; dependsOn?: readonly string[] | undefined }>(apps: readonly T[]): T[] {
  const byName = new Map(apps.map((app) => [app.name, app]));
  const ordered: T[] = [];
  const placed = new Set<string>();
  const remaining = [...apps];
  while (remaining.length > 0) {
    const index = remaining.findIndex((app) => (app.dependsOn ?? []).every((dep) => placed.has(dep) || !byName.has(dep)));
    if (index === -1) break;
    const [next] = remaining.splice(index, 1);
    ordered.push(next!);
    placed.add(next!.name);
  }
  return [...ordered, ...remaining];
}
