// Comparing a server-side dry-run result with the live object. Both come from the apiserver, so
// defaults are already filled in on both sides; what differs besides real changes is metadata the
// server manages (resourceVersion, managedFields, generation…) and status, which are dropped.
import type { KubeObject } from '../kube/client.ts';
import type { DriftedField } from './changeset.ts';
import { isSecret } from './objects.ts';

/** Metadata an artifact can set; the rest (uid, resourceVersion, managedFields…) is the server's. */
const COMPARED_METADATA = ['labels', 'annotations', 'finalizers', 'ownerReferences'] as const;

/** The object's own fields minus status, and of its metadata only what an artifact can set. */
export function normalizeForDiff(object: KubeObject): Record<string, unknown> {
  const { metadata, status: _status, ...rest } = object;
  const kept: Record<string, unknown> = {};
  for (const key of COMPARED_METADATA) {
    const value = (metadata as Record<string, unknown>)[key];
    if (value !== undefined && (Array.isArray(value) ? value.length > 0 : Object.keys(value as object).length > 0)) kept[key] = value;
  }
  return { ...rest, metadata: kept };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Leaf-level differences as JSON pointers; arrays of different length are reported whole. */
export function diffValues(before: unknown, after: unknown, path = ''): DriftedField[] {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => diffValues(before[key], after[key], `${path}/${escapePointer(key)}`));
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((item, index) => diffValues(item, after[index], `${path}/${index}`));
  }
  if (deepEqual(before, after)) return [];
  return [{ path: path || '/', before: before ?? null, after: after ?? null }];
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => deepEqual(item, b[index]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keysA = Object.keys(a);
    if (keysA.length !== Object.keys(b).length) return false;
    return keysA.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}

const MASK = '***';
const SECRET_VALUE_PATH = /^\/(data|stringData)\//;

/** Secret values never leave the cluster: present values become `***`, absent stay null. */
export function maskSecretFields(object: KubeObject, fields: DriftedField[]): DriftedField[] {
  if (!isSecret(object)) return fields;
  const mask = (value: unknown): unknown => (value === null || value === undefined ? null : MASK);
  return fields.map((field) => {
    if (SECRET_VALUE_PATH.test(field.path)) return { ...field, before: mask(field.before), after: mask(field.after) };
    if (field.path === '/data' || field.path === '/stringData') {
      const maskAll = (value: unknown) =>
        isPlainObject(value) ? Object.fromEntries(Object.keys(value).map((key) => [key, MASK])) : mask(value);
      return { ...field, before: maskAll(field.before), after: maskAll(field.after) };
    }
    return field;
  });
}

/** The differences a dry-run apply would make to the live object, Secret values masked. */
export function driftedFields(live: KubeObject, dryRun: KubeObject): DriftedField[] {
  return maskSecretFields(live, diffValues(normalizeForDiff(live), normalizeForDiff(dryRun)));
}
