// Benchmark (not a test): the agent's server-side apply manager beside kubectl on the same 500
// objects and the same apiserver, in one run. Prints wall time and peak RSS of each, and ratios.
//   npm run bench:agent                        starts a one-cluster test environment (test/env)
//   FLOTILLA_BENCH_KUBECONFIG=path npm run bench:agent   uses an existing apiserver instead
// Each tool gets its own namespace with identical objects; both run as child processes measured by
// GNU time (peak RSS), and the agent's own in-process time is shown beside its wall time (which
// includes starting Node and compiling TypeScript with tsx).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { KubeClient } from '../../agent/kube/client.ts';
import { startTestEnv, envBinDir } from '../env/harness.ts';

const execFileAsync = promisify(execFile);
const OBJECT_COUNT = 500;

function benchObjects(namespace: string): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }];
  for (let index = 0; objects.length < OBJECT_COUNT; index++) {
    const name = `bench-${index}`;
    const labels = { app: name, tier: 'bench' };
    switch (index % 5) {
      case 0:
      case 1:
        objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels }, data: { 'config.yaml': `index: ${index}\n` + 'x'.repeat(512) } });
        break;
      case 2:
        objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace, labels }, type: 'Opaque', stringData: { password: `secret-${index}` } });
        break;
      case 3:
        objects.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace, labels }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
        break;
      case 4:
        // replicas 0: the benchmark measures apply, not the scheduler.
        objects.push({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name, namespace, labels },
          spec: {
            replicas: 0,
            selector: { matchLabels: labels },
            template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0.0', ports: [{ containerPort: 8080 }] }] } },
          },
        });
        break;
    }
  }
  return objects;
}

interface Measurement {
  wallSeconds: number;
  peakRssMiB: number;
  stdout: string;
}

/** Runs a command under GNU time; `%e %M` = elapsed seconds and peak RSS in KiB, on stderr's last line. */
async function measure(command: string, args: string[]): Promise<Measurement> {
  const { stdout, stderr } = await execFileAsync('/usr/bin/time', ['-f', '%e %M', command, ...args], { maxBuffer: 256 * 1024 * 1024 });
  const [elapsed = 'NaN', peakKiB = 'NaN'] = stderr.trim().split('\n').at(-1)!.split(' ');
  return { wallSeconds: Number(elapsed), peakRssMiB: Number(peakKiB) / 1024, stdout };
}

async function main(): Promise<void> {
  let kubeconfig = process.env['FLOTILLA_BENCH_KUBECONFIG'];
  let kubectl = process.env['FLOTILLA_BENCH_KUBECTL'] ?? join(envBinDir(), 'kubectl');
  let stopEnv: (() => Promise<void>) | undefined;
  if (!kubeconfig) {
    console.log('starting a one-cluster test environment…');
    const running = await startTestEnv({ clusterNames: ['bench'], tokenRegistry: false });
    kubeconfig = running.env.clusters[0]!.kubeconfigPath;
    kubectl = running.env.bin.kubectl;
    stopEnv = () => running.stop();
  }
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-'));
  const suffix = Date.now().toString(36);
  const namespaces = { agent: `bench-agent-${suffix}`, kubectl: `bench-kubectl-${suffix}` };
  const client = await KubeClient.create(kubeconfig);
  try {
    const files = { agent: join(dir, 'agent.yaml'), kubectl: join(dir, 'kubectl.yaml') };
    for (const tool of ['agent', 'kubectl'] as const) {
      await writeFile(files[tool], benchObjects(namespaces[tool]).map((object) => stringify(object)).join('---\n'));
    }
    const versionOutput = JSON.parse((await execFileAsync(kubectl, ['version', '--client', '-o', 'json'])).stdout) as { clientVersion: { gitVersion: string } };
    const version = versionOutput.clientVersion.gitVersion;
    const worker = ['--import', 'tsx', join(import.meta.dirname, 'agent-apply-worker.ts'), kubeconfig, files.agent];
    const kubectlArgs = (verb: string[]) => ['--kubeconfig', kubeconfig!, ...verb, '-f', files.kubectl];

    // Warm-up: discovery caches and the apiserver's first-request costs, for neither tool's benefit.
    await execFileAsync(kubectl, ['--kubeconfig', kubeconfig, 'get', 'ns']);

    const agentApply = await measure(process.execPath, [...worker, 'apply']);
    const kubectlApply = await measure(kubectl, kubectlArgs(['apply', '--server-side', '--field-manager', 'bench-kubectl']));
    const agentCheck = await measure(process.execPath, [...worker, 'check']);
    // kubectl diff exits 1 when there are differences; after its own apply there must be none.
    const kubectlCheck = await measure(kubectl, kubectlArgs(['diff', '--server-side', '--field-manager', 'bench-kubectl']));

    const applyResult = JSON.parse(agentApply.stdout) as { elapsedMs: number; counts: Record<string, number> };
    const checkResult = JSON.parse(agentCheck.stdout) as { elapsedMs: number; counts: Record<string, number>; changed: unknown[] };
    if (checkResult.counts['unchanged'] !== OBJECT_COUNT) {
      throw new Error(`re-check found changes: ${JSON.stringify(checkResult.counts)} ${JSON.stringify(checkResult.changed)}`);
    }

    const row = (name: string, m: Measurement, inProcessMs?: number) =>
      `${name.padEnd(36)} ${m.wallSeconds.toFixed(2).padStart(8)} s ${(inProcessMs === undefined ? '' : (inProcessMs / 1000).toFixed(2) + ' s').padStart(12)} ${m.peakRssMiB.toFixed(0).padStart(8)} MiB`;
    const ratio = (a: number, b: number) => (a / b).toFixed(2) + '×';
    console.log(`\n${OBJECT_COUNT} objects (ConfigMaps, Secrets, Services, Deployments + their Namespace), one apiserver; kubectl ${version}`);
    console.log(`${''.padEnd(36)} ${'wall'.padStart(10)} ${'in-process'.padStart(12)} ${'peak RSS'.padStart(12)}`);
    console.log(row('agent apply (create)', agentApply, applyResult.elapsedMs));
    console.log(row('kubectl apply --server-side', kubectlApply));
    console.log(row('agent re-check (unchanged)', agentCheck, checkResult.elapsedMs));
    console.log(row('kubectl diff --server-side', kubectlCheck));
    console.log('\nratios agent / kubectl (wall; in-process in parentheses):');
    console.log(`  apply:    time ${ratio(agentApply.wallSeconds, kubectlApply.wallSeconds)} (${ratio(applyResult.elapsedMs / 1000, kubectlApply.wallSeconds)}), peak RSS ${ratio(agentApply.peakRssMiB, kubectlApply.peakRssMiB)}`);
    console.log(`  re-check: time ${ratio(agentCheck.wallSeconds, kubectlCheck.wallSeconds)} (${ratio(checkResult.elapsedMs / 1000, kubectlCheck.wallSeconds)}), peak RSS ${ratio(agentCheck.peakRssMiB, kubectlCheck.peakRssMiB)}`);
    console.log(`  agent counts: apply ${JSON.stringify(applyResult.counts)}, re-check ${JSON.stringify(checkResult.counts)}`);
  } finally {
    for (const namespace of Object.values(namespaces)) {
      await client.request('DELETE', `/api/v1/namespaces/${namespace}`, { allowStatus: [404] });
    }
    client.close();
    await rm(dir, { recursive: true, force: true });
    await stopEnv?.();
  }
}

await main();
