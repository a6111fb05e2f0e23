// Health of applied objects, in the spirit of kstatus: workloads are Ready when the controller has
// observed the latest generation and rolled it out; other objects by their Ready/Available
// condition; objects without status are Ready once they exist.
import type { KubeObject } from '../kube/client.ts';
import { subjectOf } from './objects.ts';

export type HealthStatus = 'Ready' | 'Progressing' | 'Failed';

export interface ObjectHealth {
  subject: string;
  status: HealthStatus;
  message: string;
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

type Status = {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  currentRevision?: string;
  updateRevision?: string;
  desiredNumberScheduled?: number;
  numberReady?: number;
  numberAvailable?: number;
  updatedNumberScheduled?: number;
  phase?: string;
  conditions?: Condition[];
};

function statusOf(object: KubeObject): Status {
  return (object['status'] as Status | undefined) ?? {};
}

function specOf(object: KubeObject): Record<string, unknown> {
  return (object['spec'] as Record<string, unknown> | undefined) ?? {};
}

function condition(status: Status, type: string): Condition | undefined {
  return status.conditions?.find((candidate) => candidate.type === type);
}

const ready = (message = 'ready'): Omit<ObjectHealth, 'subject'> => ({ status: 'Ready', message });
const progressing = (message: string): Omit<ObjectHealth, 'subject'> => ({ status: 'Progressing', message });
const failed = (message: string): Omit<ObjectHealth, 'subject'> => ({ status: 'Failed', message });

function healthByKind(object: KubeObject): Omit<ObjectHealth, 'subject'> {
  const status = statusOf(object);
  const generation = object.metadata.generation;
  const observed = status.observedGeneration;
  const stale = generation !== undefined && observed !== undefined && observed < generation;
  const group = object.apiVersion.split('/')[0];

  if (object.metadata.deletionTimestamp) return progressing('being deleted');

  switch (`${object.apiVersion.includes('/') ? group : ''}/${object.kind}`) {
    case 'apps/Deployment': {
      if (observed === undefined || stale) return progressing('rollout not yet observed by the controller');
      const progress = condition(status, 'Progressing');
      if (progress?.reason === 'ProgressDeadlineExceeded') return failed(progress.message ?? 'progress deadline exceeded');
      const wanted = (specOf(object)['replicas'] as number | undefined) ?? 1;
      if ((status.updatedReplicas ?? 0) < wanted) return progressing(`${status.updatedReplicas ?? 0}/${wanted} replicas updated`);
      if ((status.replicas ?? 0) > (status.updatedReplicas ?? 0)) return progressing('old replicas are pending termination');
      if ((status.availableReplicas ?? 0) < wanted) return progressing(`${status.availableReplicas ?? 0}/${wanted} replicas available`);
      return ready(`${wanted}/${wanted} replicas available`);
    }
    case 'apps/StatefulSet': {
      if (observed === undefined || stale) return progressing('rollout not yet observed by the controller');
      const wanted = (specOf(object)['replicas'] as number | undefined) ?? 1;
      if ((status.readyReplicas ?? 0) < wanted) return progressing(`${status.readyReplicas ?? 0}/${wanted} replicas ready`);
      const strategy = (specOf(object)['updateStrategy'] as { type?: string } | undefined)?.type ?? 'RollingUpdate';
      if (strategy === 'RollingUpdate' && status.updateRevision && status.currentRevision !== status.updateRevision) {
        return progressing(`${status.updatedReplicas ?? 0}/${wanted} replicas updated`);
      }
      return ready(`${wanted}/${wanted} replicas ready`);
    }
    case 'apps/DaemonSet': {
      if (observed === undefined || stale) return progressing('rollout not yet observed by the controller');
      const desired = status.desiredNumberScheduled ?? 0;
      if ((status.updatedNumberScheduled ?? 0) < desired) return progressing(`${status.updatedNumberScheduled ?? 0}/${desired} pods updated`);
      if ((status.numberAvailable ?? 0) < desired) return progressing(`${status.numberAvailable ?? 0}/${desired} pods available`);
      return ready(`${desired}/${desired} pods available`);
    }
    case 'batch/Job': {
      const failure = condition(status, 'Failed');
      if (failure?.status === 'True') return failed(failure.message ?? failure.reason ?? 'job failed');
      if (condition(status, 'Complete')?.status === 'True') return ready('job complete');
      return progressing('job running');
    }
    case 'apiextensions.k8s.io/CustomResourceDefinition': {
      if (condition(status, 'Established')?.status === 'True') return ready('established');
      return progressing('not yet established');
    }
    case '/Namespace':
      return status.phase === 'Active' || status.phase === undefined ? ready('active') : progressing(`phase ${status.phase}`);
    case '/PersistentVolumeClaim':
      return status.phase === 'Bound' ? ready('bound') : progressing(`phase ${status.phase ?? 'unknown'}`);
    case '/Pod': {
      if (status.phase === 'Succeeded') return ready('succeeded');
      if (status.phase === 'Failed') return failed('pod failed');
      break;
    }
  }
  return healthByConditions(status, stale);
}

/** Generic objects: Stalled → Failed; Ready or Available False → Progressing; no conditions → Ready. */
function healthByConditions(status: Status, stale: boolean): Omit<ObjectHealth, 'subject'> {
  if (stale) return progressing('latest generation not yet observed');
  const stalled = condition(status, 'Stalled');
  if (stalled?.status === 'True') return failed(stalled.message ?? stalled.reason ?? 'stalled');
  for (const type of ['Ready', 'Available']) {
    const found = condition(status, type);
    if (!found) continue;
    if (found.status === 'True') return ready(found.message || type.toLowerCase());
    return progressing(found.message || found.reason || `${type} is ${found.status}`);
  }
  return ready('current');
}

export function healthOf(object: KubeObject): ObjectHealth {
  return { subject: subjectOf(object), ...healthByKind(object) };
}

/** The status of a set: Failed if any object failed, else Progressing if any is, else Ready. */
export function summarize(objects: ObjectHealth[]): HealthStatus {
  if (objects.some((object) => object.status === 'Failed')) return 'Failed';
  if (objects.some((object) => object.status === 'Progressing')) return 'Progressing';
  return 'Ready';
}

/** Kinds that have no status worth waiting for; polling them would only cost requests. */
const STATUSLESS_KINDS = new Set([
  'ConfigMap',
  'Secret',
  'Service',
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'ClusterRole',
  'ClusterRoleBinding',
  'Endpoints',
  'LimitRange',
  'ResourceQuota',
  'NetworkPolicy',
  'PodDisruptionBudget',
  'PriorityClass',
  'StorageClass',
  'IngressClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
]);

/** Whether waiting for the object can tell anything: kinds without status are Ready once they exist. */
export function hasStatus(object: KubeObject): boolean {
  return !STATUSLESS_KINDS.has(object.kind);
}
