// Kubeconfig users with an exec credential plugin (a real shell script) or an auth-provider, against
// the real kube-apiserver of the test environment; client certificates from a plugin against a real
// TLS server that requires them (the test apiservers authenticate by token only).
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { connectTestCluster, type AgentTestCluster } from '../../test/support/cluster.ts';
import { KubeClient } from './client.ts';

const execFileAsync = promisify(execFile);

// Counts its runs, records what it was told, and prints the token (or certificate) the test asks for.
// Run n prints $TOKEN_n when set, else $TOKEN; $EXPIRES, when set, becomes expirationTimestamp.
const PLUGIN = String.raw`#!/bin/sh
set -e
dir=$(dirname "$0")
n=$(cat "$dir/runs" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$dir/runs"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$dir/exec-info.json"
printf '%s\n' "$@" > "$dir/args"
if [ -n "$FAIL" ]; then echo "$FAIL" >&2; exit 1; fi
token=$(eval "echo \"\$TOKEN_$n\"")
if [ -z "$token" ]; then token=$TOKEN; fi
if [ -n "$CERT_DIR" ]; then
  cert=$(awk 'NF {printf "%s\\n", $0}' "$CERT_DIR/client-$n.crt")
  key=$(awk 'NF {printf "%s\\n", $0}' "$CERT_DIR/client-$n.key")
  status="\"clientCertificateData\":\"$cert\",\"clientKeyData\":\"$key\""
else
  status="\"token\":\"$token\""
fi
if [ -n "$EXPIRES" ]; then status="$status,\"expirationTimestamp\":\"$EXPIRES\""; fi
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{%s}}\n' "$API_VERSION" "$status"
`;

interface Admin {
  server: string;
  caFile: string;
  token: string;
}

let cluster: AgentTestCluster;
let admin: Admin;
let dir: string;

async function kubeconfigWith(user: Record<string, unknown>, cluster: Record<string, unknown> = {}): Promise<string> {
  const file = join(dir, 'kubeconfig');
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: admin.server, 'certificate-authority': admin.caFile, ...cluster } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  await rm(join(dir, 'runs'), { force: true });
  return file;
}

function execUser(env: Record<string, string>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const apiVersion = env['API_VERSION'] ?? 'client.authentication.k8s.io/v1';
  return {
    exec: {
      apiVersion,
      // Relative to the kubeconfig's directory, as kubectl resolves it.
      command: './plugin.sh',
      args: ['--cluster', 'c'],
      env: Object.entries({ API_VERSION: apiVersion, ...env }).map(([name, value]) => ({ name, value })),
      interactiveMode: 'Never',
      ...extra,
    },
  };
}

const runs = async () => Number((await readFile(join(dir, 'runs'), 'utf8').catch(() => '0')).trim());
const getDefaultNamespace = (client: KubeClient) => client.request<{ metadata: { name: string } }>('GET', '/api/v1/namespaces/default');

beforeAll(async () => {
  cluster = await connectTestCluster('dev');
  const config = parse(await readFile(cluster.kubeconfigPath, 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority': string } }[];
    users: { user: { token: string } }[];
  };
  admin = { server: config.clusters[0]!.cluster.server, caFile: config.clusters[0]!.cluster['certificate-authority'], token: config.users[0]!.user.token };
  dir = await mkdtemp(join(tmpdir(), 'flotilla-exec-'));
  await writeFile(join(dir, 'plugin.sh'), PLUGIN);
  await chmod(join(dir, 'plugin.sh'), 0o755);
});

afterAll(async () => {
  cluster.client.close();
  await rm(dir, { recursive: true, force: true });
});

describe('exec credential plugins', () => {
  it('runs the plugin once with its args, env and KUBERNETES_EXEC_INFO, and uses its token for every request', async () => {
    const client = await KubeClient.create(await kubeconfigWith(execUser({ TOKEN: admin.token }, { provideClusterInfo: true })));
    try {
      const results = await Promise.all([1, 2, 3, 4].map(() => getDefaultNamespace(client)));
      expect(results.map((result) => result?.metadata.name)).toEqual(['default', 'default', 'default', 'default']);
      expect(await getDefaultNamespace(client)).toMatchObject({ metadata: { name: 'default' } });
      expect(await runs()).toBe(1);
      expect((await readFile(join(dir, 'args'), 'utf8')).trim().split('\n')).toEqual(['--cluster', 'c']);
      const info = JSON.parse(await readFile(join(dir, 'exec-info.json'), 'utf8')) as { spec: { cluster: Record<string, string> } };
      expect(info).toMatchObject({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', spec: { interactive: false, cluster: { server: admin.server } } });
      expect(Buffer.from(info.spec.cluster['certificate-authority-data']!, 'base64').toString()).toBe(await readFile(admin.caFile, 'utf8'));
    } finally {
      client.close();
    }
  });

  it('runs a v1beta1 plugin again once its credential has expired', async () => {
    const expired = new Date(Date.now() - 1000).toISOString();
    const client = await KubeClient.create(
      await kubeconfigWith(execUser({ API_VERSION: 'client.authentication.k8s.io/v1beta1', TOKEN: admin.token, EXPIRES: expired })),
    );
    try {
      await getDefaultNamespace(client);
      await getDefaultNamespace(client);
      await getDefaultNamespace(client);
      expect(await runs()).toBe(3);
      // Not told about the cluster without provideClusterInfo.
      expect(JSON.parse(await readFile(join(dir, 'exec-info.json'), 'utf8'))).toEqual({
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        kind: 'ExecCredential',
        spec: { interactive: false },
      });
    } finally {
      client.close();
    }
  });

  it('runs the plugin again when the apiserver rejects its token with 401, and retries the request once', async () => {
    const client = await KubeClient.create(await kubeconfigWith(execUser({ TOKEN_1: 'revoked-token', TOKEN: admin.token })));
    try {
      expect(await getDefaultNamespace(client)).toMatchObject({ metadata: { name: 'default' } });
      expect(await runs()).toBe(2);
    } finally {
      client.close();
    }
  });

  it('fails with the plugin’s last stderr line, or its install hint when the command is missing', async () => {
    const failing = await KubeClient.create(await kubeconfigWith(execUser({ FAIL: 'error: you must be logged in to the server' })));
    await expect(getDefaultNamespace(failing)).rejects.toThrow('exec plugin ./plugin.sh failed: error: you must be logged in to the server');
    failing.close();
    const missing = await KubeClient.create(
      await kubeconfigWith({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'flotilla-no-such-plugin', installHint: 'install it from example.com' } }),
    );
    await expect(getDefaultNamespace(missing)).rejects.toThrow('exec plugin flotilla-no-such-plugin failed: not found (install it from example.com)');
    missing.close();
    await expect(KubeClient.create(await kubeconfigWith({ exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'x' } }))).rejects.toThrow(
      /apiVersion "client.authentication.k8s.io\/v1alpha1" is not supported/,
    );
  });

  it('uses an auth-provider’s id-token, and refuses an auth-provider without one in one sentence', async () => {
    const client = await KubeClient.create(await kubeconfigWith({ 'auth-provider': { name: 'oidc', config: { 'id-token': admin.token } } }));
    expect(await getDefaultNamespace(client)).toMatchObject({ metadata: { name: 'default' } });
    client.close();
    await expect(KubeClient.create(await kubeconfigWith({ 'auth-provider': { name: 'gcp', config: {} } }))).rejects.toThrow(
      'needs the gcp auth-provider plugin, which was removed from kubectl and is not supported: configure an exec credential plugin instead',
    );
  });
});

describe('exec client certificates', () => {
  let certDir: string;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'flotilla-exec-certs-'));
    const openssl = (args: string[]) => execFileAsync('openssl', args, { cwd: certDir });
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-ca']);
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.crt', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    for (const n of [1, 2]) {
      await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `client-${n}.key`, '-out', `client-${n}.csr`, '-subj', `/CN=agent-${n}`]);
      await openssl(['x509', '-req', '-in', `client-${n}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `client-${n}.crt`, '-days', '1']);
    }
    const file = (name: string) => readFile(join(certDir, name));
    // Answers with the common name of the client certificate it was shown.
    server = createServer({ key: await file('server.key'), cert: await file('server.crt'), ca: await file('ca.crt'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: peer.subject.CN } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(certDir, { recursive: true, force: true });
  });

  it('presents the plugin’s client certificate, and a renewed one after it expired', async () => {
    const soon = new Date(Date.now() + 15_000).toISOString();
    const kubeconfig = await kubeconfigWith(execUser({ CERT_DIR: certDir, EXPIRES: soon }), { server: url, 'certificate-authority': join(certDir, 'server.crt') });
    const client = await KubeClient.create(kubeconfig);
    try {
      expect(await getDefaultNamespace(client)).toMatchObject({ metadata: { name: 'agent-1' } });
      expect(await getDefaultNamespace(client)).toMatchObject({ metadata: { name: 'agent-1' } });
      expect(await runs()).toBe(1);
      // Within the renewal margin (10 s before expiry) the plugin runs again and its new
      // certificate goes out on a new connection.
      await new Promise((resolve) => setTimeout(resolve, 5_500));
      expect(await getDefaultNamespace(client)).toMatchObject({ metadata: { name: 'agent-2' } });
      expect(await runs()).toBe(2);
    } finally {
      client.close();
    }
  });
});
