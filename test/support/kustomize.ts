// Kustomize fixtures shared by the agent's unit tests and the cluster tests: the binary
// test/env/setup builds, and an overlay artifact using what Flux users' kustomizations use.
import { join } from 'node:path';
import { envBinDir } from '../env/harness.ts';

/** The kustomize the agent runs: test/env/setup's, or FLOTILLA_KUSTOMIZE. */
export const KUSTOMIZE = process.env['FLOTILLA_KUSTOMIZE'] ?? join(envBinDir(), 'kustomize');

export const deployment = (name: string, image = 'nginx:1.27') =>
  `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  labels: {app: ${name}}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: ${name}}}\n  template:\n    metadata: {labels: {app: ${name}}}\n    spec:\n      containers:\n      - name: ${name}\n        image: ${image}\n        envFrom: [{configMapRef: {name: settings}}]\n`;

/** A base, a component and a prod overlay using every feature the issue lists. */
export const overlayArtifact = (greeting = 'hello') => ({
  'base/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- service.yaml\nconfigMapGenerator:\n- name: settings\n  literals: [MODE=base]\n',
  'base/deployment.yaml': deployment('web'),
  'base/service.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n',
  'components/monitoring/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [monitor.yaml]\ncommonAnnotations:\n  flotilla.test/monitored: "true"\n',
  'components/monitoring/monitor.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: monitor-rules}\ndata: {rule: up}\n',
  'overlays/prod/kustomization.yaml': [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'namePrefix: prod-',
    'labels:',
    '- pairs: {env: prod}',
    'resources: [../../base]',
    'components: [../../components/monitoring]',
    'patches:',
    '- path: replicas.yaml',
    '- target: {kind: Service, name: web}',
    '  patch: |-',
    '    - op: replace',
    '      path: /spec/ports/0/port',
    '      value: 8080',
    'images:',
    '- name: nginx',
    '  newName: registry.example.com/nginx',
    '  newTag: "1.28"',
    'configMapGenerator:',
    '- name: settings',
    '  behavior: merge',
    '  literals: [MODE=prod]',
    '  files: [greeting.txt]',
    '',
  ].join('\n'),
  'overlays/prod/replicas.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 3}\n',
  'overlays/prod/greeting.txt': greeting,
  // Not reachable from overlays/prod: never looked at.
  'unrelated/kustomization.yaml': 'resources: [https://example.com/never.yaml]\n',
});
