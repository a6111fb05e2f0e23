// Every reason an app report carries, as one closed set. Each step of the reconciler fails with
// exactly one of these, so the control plane, the CLI and alerts can branch on the reason and
// never have to parse a message.
import type { FetchFailureReason } from './artifact.ts';
import type { ApplyFailureReason } from './ssa/errors.ts';

export type FailureReason =
  /** fetch: the artifact could not be pulled, verified or unpacked (artifact.ts maps lib/oci's codes). */
  | FetchFailureReason
  /** build: a document under the app's path is not valid YAML. */
  | 'BuildFailed'
  /** substitute: a variable has no value (strict), a reference is malformed, a valuesFrom Secret is missing, or an object is no longer one after substitution. */
  | 'SubstitutionFailed'
  /** apply: an object was refused, before or (for objects behind a new Namespace or CRD) after writing. */
  | ApplyFailureReason
  /** prune: an object that left the artifact could not be deleted; prune is tried again next time. */
  | 'PruneFailed'
  /** health: an object reports a failure (a Job failed, a Deployment exceeded its progress deadline). */
  | 'HealthCheckFailed'
  /** health: still not healthy when the app's `timeoutSeconds` since the rollout started had passed. */
  | 'HealthCheckTimeout'
  /** Anything no step expected, e.g. the apiserver failing a read of the inventory. */
  | 'ReconcileFailed';

export type Reason =
  | FailureReason
  /** Applied, and every object is healthy. */
  | 'ReconciliationSucceeded'
  /** Applied, with health not checked because the app's `wait` is off. */
  | 'Applied'
  /** Applied, and objects are still rolling out within the app's timeout. */
  | 'Progressing'
  /** The cluster or app is suspended: drift is reported, nothing is written. */
  | 'Suspended'
  /** An app named in `dependsOn` is not Ready at its desired version in this cluster (or not desired there): nothing is applied. */
  | 'DependencyNotReady';
