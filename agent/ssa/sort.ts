// Apply order: definitions (CRDs, Namespaces) go first in their own stage and are waited on, then
// everything else in a stable kind order so a Service exists before the Deployment behind it and
// webhooks come last (they could otherwise reject the objects applied after them).
import type { KubeObject } from '../kube/client.ts';
import { groupOf } from './objects.ts';

const FIRST_KINDS = [
  'CustomResourceDefinition',
  'Namespace',
  'ClusterRole',
  'PriorityClass',
  'StorageClass',
  'IngressClass',
  'RuntimeClass',
  'ClusterRoleBinding',
  'ResourceQuota',
  'LimitRange',
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'ConfigMap',
  'Secret',
  'Service',
  'PersistentVolumeClaim',
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'Job',
  'CronJob',
  'PodDisruptionBudget',
];
const LAST_KINDS = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

const kindRank = new Map<string, number>([
  ...FIRST_KINDS.map((kind, index): [string, number] => [kind, index - FIRST_KINDS.length]),
  ...LAST_KINDS.map((kind, index): [string, number] => [kind, index + 1]),
]);

/** Kinds unknown to the list rank 0: after the built-ins, before webhooks. */
export function rankOf(object: { kind: string }): number {
  return kindRank.get(object.kind) ?? 0;
}

/** Rank, then group, kind, namespace and name, so the order never depends on the artifact's file order. */
export function compareForApply(a: KubeObject, b: KubeObject): number {
  const rankA = rankOf(a);
  const rankB = rankOf(b);
  if (rankA !== rankB) return rankA - rankB;
  const groupA = groupOf(a.apiVersion);
  const groupB = groupOf(b.apiVersion);
  if (groupA !== groupB) return groupA < groupB ? -1 : 1;
  if (a.kind !== b.kind) return a.kind < b.kind ? -1 : 1;
  const nsA = a.metadata.namespace ?? '';
  const nsB = b.metadata.namespace ?? '';
  if (nsA !== nsB) return nsA < nsB ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

/** Objects other objects depend on existing and being served: applied and waited on first. */
export function isDefinition(object: KubeObject): boolean {
  return (
    (object.kind === 'CustomResourceDefinition' && groupOf(object.apiVersion) === 'apiextensions.k8s.io') ||
    (object.kind === 'Namespace' && object.apiVersion === 'v1')
  );
}
