// One error type for the manager: a reason the reconciler maps to its report, and the objects that
// caused it, each with the apiserver's message.
import type { ChangeSetEntry } from './changeset.ts';
import { KubeApiError } from '../kube/client.ts';

export type ApplyFailureReason =
  /** A document is not a Kubernetes object, or its kind is unknown to the cluster. */
  | 'InvalidObject'
  /** The apiserver rejected the object in the dry-run, before anything was written. */
  | 'DryRunFailed'
  /** An immutable field changed and the app does not allow recreating the object. */
  | 'ImmutableFieldChange'
  /** CRDs or Namespaces did not become ready in time. */
  | 'DefinitionsNotReady'
  /** A real write failed after the dry-run passed. */
  | 'ApplyFailed';

export interface ObjectFailure {
  subject: string;
  message: string;
}

export class ApplyError extends Error {
  constructor(
    readonly reason: ApplyFailureReason,
    readonly failures: ObjectFailure[],
    /** What was written before the failure (empty when nothing was). */
    readonly entries: ChangeSetEntry[] = [],
  ) {
    super(failures.map((failure) => `${failure.subject}: ${failure.message}`).join('; ') || reason);
    this.name = 'ApplyError';
  }
}

/** Detected like kubectl does: an Invalid (422) whose message names an immutable field. */
/** The object exists and carries another owner's labels: taking it would start a tug of war. */
export class OwnershipConflictError extends Error {}

export function isImmutableError(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 422 && /immutable/i.test(error.message);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
