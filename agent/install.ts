// Install manifests for the agent: Namespace, ServiceAccount, RBAC, the registration-token Secret
// and the Deployment, rendered as one multi-document YAML (what `flotilla agent install` prints).
// agent/deploy/ holds the same manifests rendered with defaults, for `kubectl apply -k`-style use;
// a test keeps the two in sync.
import { stringify } from 'yaml';
import packageJson from '../package.json' with { type: 'json' };

export interface InstallOptions {
  controlPlaneUrl: string;
  /** One-time registration token; omitted, the manifests expect the Secret to be created separately. */
  registrationToken?: string;
  /** Default: DEFAULT_AGENT_IMAGE. */
  image?: string;
  namespace?: string;
  /**
   * Grant only what common workloads need instead of cluster-admin. The agent can then not apply
   * RBAC objects, CRDs or webhooks: Kubernetes forbids granting permissions one does not hold.
   */
  leastPrivilege?: boolean;
  /**
   * A `kubernetes.io/dockerconfigjson` Secret in the agent's namespace with credentials for private
   * registries; mounted as the agent's DOCKER_CONFIG.
   */
  registrySecret?: string;
}

/** The agent's version: the package's, which scripts/image.ts labels and tags the image with. */
export const AGENT_VERSION: string = packageJson.version;
export const AGENT_IMAGE_REPOSITORY = 'ghcr.io/flotilla-dev/flotilla-agent';
/** The image `flotilla agent install` and agent/deploy use unless told otherwise (built by `npm run image`). */
export const DEFAULT_AGENT_IMAGE = `${AGENT_IMAGE_REPOSITORY}:${AGENT_VERSION}`;
/** The image's org.opencontainers.image.source label. */
export const AGENT_IMAGE_SOURCE = 'https://github.com/flotilla-dev/flotilla';
/** The non-root user and group the image runs as (distroless's `nonroot`), which the Deployment asks for too. */
export const AGENT_UID = 65532;

export const DEFAULT_NAMESPACE = 'flotilla-system';
const NAME = 'flotilla-agent';
const REGISTRATION_SECRET = 'flotilla-agent-registration';
const REGISTRY_CONFIG_DIR = '/etc/flotilla/registry';

const commonLabels = { 'app.kubernetes.io/name': NAME, 'app.kubernetes.io/part-of': 'flotilla' };

/** What the agent needs to manage typical applications, plus its own state and discovery. */
const LEAST_PRIVILEGE_RULES = [
  {
    apiGroups: [''],
    resources: ['configmaps', 'secrets', 'services', 'serviceaccounts', 'persistentvolumeclaims', 'namespaces'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  { apiGroups: [''], resources: ['pods', 'events'], verbs: ['get', 'list', 'watch'] },
  {
    apiGroups: ['apps'],
    resources: ['deployments', 'statefulsets', 'daemonsets'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['ingresses', 'networkpolicies'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
  {
    apiGroups: ['autoscaling'],
    resources: ['horizontalpodautoscalers'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get', 'list', 'watch'] },
];

export function installObjects(options: InstallOptions): Record<string, unknown>[] {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const metadata = (name: string, namespaced = true) => ({ name, ...(namespaced ? { namespace } : {}), labels: commonLabels });
  const subjects = [{ kind: 'ServiceAccount', name: NAME, namespace }];
  const objects: Record<string, unknown>[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: metadata(namespace, false) },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(NAME) },
  ];
  if (options.leastPrivilege) {
    objects.push(
      { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: metadata(NAME, false), rules: LEAST_PRIVILEGE_RULES },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: metadata(NAME, false),
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAME },
        subjects,
      },
    );
  } else {
    objects.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: metadata(NAME, false),
      // The agent applies whatever the artifacts contain, RBAC and CRDs included: like Flux's
      // controllers it needs cluster-admin for that. Use leastPrivilege to narrow it.
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects,
    });
  }
  if (options.registrationToken) {
    objects.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadata(REGISTRATION_SECRET),
      type: 'Opaque',
      stringData: { token: options.registrationToken },
    });
  }
  objects.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(NAME),
    spec: {
      replicas: 1,
      // Never two agents at once: they would fight over the same objects.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: { 'app.kubernetes.io/name': NAME } },
      template: {
        metadata: {
          labels: commonLabels,
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'prometheus.io/path': '/metrics' },
        },
        spec: {
          serviceAccountName: NAME,
          securityContext: { runAsNonRoot: true, runAsUser: AGENT_UID, runAsGroup: AGENT_UID, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'agent',
              image: options.image ?? DEFAULT_AGENT_IMAGE,
              env: [
                { name: 'FLOTILLA_CONTROL_PLANE_URL', value: options.controlPlaneUrl },
                {
                  name: 'FLOTILLA_REGISTRATION_TOKEN',
                  // Optional: once registered, the agent's identity Secret is all it needs.
                  valueFrom: { secretKeyRef: { name: REGISTRATION_SECRET, key: 'token', optional: true } },
                },
                { name: 'FLOTILLA_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                ...(options.registrySecret ? [{ name: 'DOCKER_CONFIG', value: REGISTRY_CONFIG_DIR }] : []),
              ],
              ports: [{ name: 'http-metrics', containerPort: 8080 }],
              livenessProbe: { httpGet: { path: '/healthz', port: 'http-metrics' }, periodSeconds: 30, failureThreshold: 3 },
              readinessProbe: { httpGet: { path: '/healthz', port: 'http-metrics' }, periodSeconds: 10 },
              resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              // The root filesystem is read-only; /tmp is the one writable place (the image's user's home).
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                ...(options.registrySecret ? [{ name: 'registry-credentials', mountPath: REGISTRY_CONFIG_DIR, readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            ...(options.registrySecret
              ? [
                  {
                    name: 'registry-credentials',
                    secret: { secretName: options.registrySecret, items: [{ key: '.dockerconfigjson', path: 'config.json' }] },
                  },
                ]
              : []),
          ],
        },
      },
    },
  });
  return objects;
}

export function renderInstallManifests(options: InstallOptions): string {
  return installObjects(options)
    .map((object) => stringify(object, { lineWidth: 0 }))
    .join('---\n');
}
