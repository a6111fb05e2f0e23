import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../kube/client.ts';
import { healthOf } from './health.ts';

const object = (apiVersion: string, kind: string, spec: unknown, status: unknown, generation = 1): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name: 'x', namespace: 'ns', generation },
  spec,
  status,
});

describe('healthOf', () => {
  it('treats a Deployment as Progressing until the controller observed it and replicas are available', () => {
    expect(healthOf(object('apps/v1', 'Deployment', { replicas: 2 }, {})).status).toBe('Progressing');
    expect(healthOf(object('apps/v1', 'Deployment', { replicas: 2 }, { observedGeneration: 1, updatedReplicas: 2, replicas: 2, availableReplicas: 1 })).status).toBe('Progressing');
    expect(healthOf(object('apps/v1', 'Deployment', { replicas: 2 }, { observedGeneration: 1, updatedReplicas: 2, replicas: 2, availableReplicas: 2 })).status).toBe('Ready');
    expect(healthOf(object('apps/v1', 'Deployment', { replicas: 2 }, { observedGeneration: 1, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }, 2)).status).toBe('Progressing');
  });

  it('fails a Deployment whose progress deadline passed', () => {
    const status = { observedGeneration: 1, conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' }] };
    expect(healthOf(object('apps/v1', 'Deployment', {}, status))).toMatchObject({ status: 'Failed', message: 'too slow' });
  });

  it('checks StatefulSet revisions and DaemonSet scheduling', () => {
    expect(healthOf(object('apps/v1', 'StatefulSet', { replicas: 1 }, { observedGeneration: 1, readyReplicas: 1, currentRevision: 'a', updateRevision: 'b' })).status).toBe('Progressing');
    expect(healthOf(object('apps/v1', 'StatefulSet', { replicas: 1 }, { observedGeneration: 1, readyReplicas: 1, currentRevision: 'b', updateRevision: 'b' })).status).toBe('Ready');
    expect(healthOf(object('apps/v1', 'DaemonSet', {}, { observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2 })).status).toBe('Progressing');
    expect(healthOf(object('apps/v1', 'DaemonSet', {}, { observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3 })).status).toBe('Ready');
  });

  it('maps Job conditions', () => {
    expect(healthOf(object('batch/v1', 'Job', {}, {})).status).toBe('Progressing');
    expect(healthOf(object('batch/v1', 'Job', {}, { conditions: [{ type: 'Complete', status: 'True' }] })).status).toBe('Ready');
    expect(healthOf(object('batch/v1', 'Job', {}, { conditions: [{ type: 'Failed', status: 'True', message: 'BackoffLimitExceeded' }] })).status).toBe('Failed');
  });

  it('reads generic Ready/Available conditions, and treats objects without status as Ready', () => {
    expect(healthOf(object('example.dev/v1', 'Widget', {}, { conditions: [{ type: 'Ready', status: 'False', message: 'warming up' }] }))).toMatchObject({ status: 'Progressing', message: 'warming up' });
    expect(healthOf(object('example.dev/v1', 'Widget', {}, { conditions: [{ type: 'Available', status: 'True' }] })).status).toBe('Ready');
    expect(healthOf(object('example.dev/v1', 'Widget', {}, { conditions: [{ type: 'Stalled', status: 'True', message: 'bad spec' }] })).status).toBe('Failed');
    expect(healthOf(object('v1', 'ConfigMap', undefined, undefined)).status).toBe('Ready');
  });
});
