// Object identity in one place: the `Kind/namespace/name` subject used in logs, change sets and
// drift reports, and the inventory id `<ns>_<name>_<group>_<kind>` (Flux's format) used for prune.
import type { KubeObject } from '../kube/client.ts';

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  /** Empty for cluster-scoped objects. */
  namespace: string;
  name: string;
}

export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function refOf(object: KubeObject): ObjectRef {
  return {
    apiVersion: object.apiVersion,
    kind: object.kind,
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
  };
}

/** `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects. */
export function subjectOf(ref: ObjectRef | KubeObject): string {
  const plain = 'metadata' in ref ? refOf(ref) : ref;
  return plain.namespace ? `${plain.kind}/${plain.namespace}/${plain.name}` : `${plain.kind}/${plain.name}`;
}

/** Stable across API versions of the same kind, so a version bump is not a prune + create. */
export function inventoryIdOf(ref: ObjectRef | KubeObject): string {
  const plain = 'metadata' in ref ? refOf(ref) : ref;
  return `${plain.namespace}_${plain.name}_${groupOf(plain.apiVersion)}_${plain.kind}`;
}

export function isSecret(object: KubeObject): boolean {
  return object.kind === 'Secret' && object.apiVersion === 'v1';
}
