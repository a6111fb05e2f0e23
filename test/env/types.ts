// The shape of the real test environment (test/env/README.md) that the vitest globalSetup
// provides to every test file: `inject('testEnv')`.

/** One Kubernetes cluster: its own kube-apiserver (own etcd prefix), controller-manager, scheduler and kwok. */
export interface TestCluster {
  name: string;
  /** Kubeconfig with admin (system:masters) credentials for this cluster alone. */
  kubeconfigPath: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** Bearer token of the admin user (static token file). */
  token: string;
  /** CA bundle that verifies the apiserver's serving certificate. */
  caFile?: string;
}

/** One instance of the CNCF distribution registry, plain HTTP on loopback. */
export interface TestRegistry {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, the form image references and `oras --plain-http` use. */
  host: string;
  username?: string;
  password?: string;
  auth: 'anonymous' | 'basic' | 'token';
}

export interface TestEnv {
  /** dev, prod-us, prod-eu in that order. */
  clusters: TestCluster[];
  registries: { anonymous: TestRegistry; basic: TestRegistry; token?: TestRegistry };
  /** moto's server: DynamoDB and S3 (path-style) on one endpoint. */
  moto: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string };
  /** Absolute paths of the tools `npm run env:setup` built. */
  bin: { kubectl: string; oras: string; [name: string]: string };
  /** One log file per process; kept after a failed run. */
  logDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    testEnv: TestEnv;
  }
}
