// What one cluster's desired state carries of an app's variables. Pure functions, used where the
// desired entries are built (desired.ts) and where a check-in resolves them (resolve.ts).
import type { DesiredApp } from '../../lib/api/schemas.ts';
import type { ClusterRecord, DesiredEntry } from '../model.ts';
import type { ValuesRecord } from '../storage/values.ts';

/** What an environment's desired entry keeps of the app's values: that environment's, and the clusters'. */
export function valuesForEnvironment(values: ValuesRecord | null, environment: string): DesiredEntry['values'] {
  if (!values) return undefined;
  return { environment: (Object.hasOwn(values.environments, environment) ? values.environments[environment] : undefined) ?? {}, clusters: values.clusters };
}

/** A label key as a variable name: every character outside [_a-zA-Z0-9] becomes `_`. */
export const labelVariable = (key: string) => `cluster_label_${key.replace(/[^_a-zA-Z0-9]/g, '_')}`;

/**
 * The variables of one app on one cluster, lowest precedence first: the cluster's own
 * (`cluster_name`, `cluster_environment`, `cluster_region`, `cluster_label_<key>`), the
 * environment's values, the cluster's values. Null when the app turned substitution off.
 */
export function substitutionFor(cluster: ClusterRecord, entry: DesiredEntry): Pick<DesiredApp, 'variables' | 'valuesFrom'> {
  if (entry.spec.substitute === false) return {};
  const variables: Record<string, string> = Object.create(null);
  variables.cluster_name = cluster.name;
  variables.cluster_environment = cluster.environment;
  variables.cluster_region = cluster.region;
  for (const key of Object.keys(cluster.labels).sort()) variables[labelVariable(key)] = cluster.labels[key] ?? '';
  Object.assign(variables, entry.values?.environment ?? {});
  if (entry.values && Object.hasOwn(entry.values.clusters, cluster.name)) Object.assign(variables, entry.values.clusters[cluster.name]);
  const valuesFrom = entry.spec.valuesFrom?.map(({ secret, optional }) => ({ secret, optional: optional ?? false }));
  return { variables: { ...variables }, ...(valuesFrom?.length ? { valuesFrom } : {}) };
}
