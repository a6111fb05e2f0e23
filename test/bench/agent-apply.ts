// Benchmark (not a test): the agent's server-side apply manager beside kubectl on the same 500
// objects and the same apiserver, in one run. Prints wall time and peak RSS of each (median of
// FLOTILLA_BENCH_ROUNDS rounds, default 3), and ratios.
//   npm run bench:agent                        starts a one-cluster test environment (test/env)
//   FLOTILLA_BENCH_KUBECONFIG=path npm run bench:agent   uses an existing apiserver instead
// Each tool gets its own namespace with identical objects; both run as child processes measured by
// GNU time (peak RSS). The agent side is what ships: the worker is bundled with the agent's esbuild
// options (scripts/build.ts) and run by the test environment's Node 24 with AGENT_NODE_FLAGS; its
// in-process time (without starting Node and loading the bundle) is shown beside its wall time.
// FLOTILLA_BENCH_MEMORY=1 also prints process.memoryUsage() of the last agent runs at each step.
// Then the shipped agent keeps a quiet 500-object app (agent-drift.ts): apiserver requests per object
// per hour and kubectl edit → reverted. It needs a registry: the test environment's, or
// FLOTILLA_BENCH_REGISTRY=host:port beside FLOTILLA_BENCH_KUBECONFIG; FLOTILLA_BENCH_QUIET_SECONDS
// (default 360: one full check at the default resync of 300 s falls inside it) is its window,
// FLOTILLA_BENCH_DRIFT=0 skips it.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { KubeClient } from '../../agent/kube/client.ts';
import { AGENT_NODE_FLAGS, bundleLikeAgent } from '../../scripts/build.ts';
import { startTestEnv, envBinDir, envCacheDir } from '../env/harness.ts';
import { measureDrift, type DriftFigures } from './agent-drift.ts';

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

interface Sample {
  wallSeconds: number;
  peakRssMiB: number;
  /** The agent worker's own timing, without process start-up. */
  inProcessSeconds?: number;
  /** From the start of the worker's module to the start of applying (parse, kubeconfig). */
  startupSeconds?: number;
  counts?: Record<string, number>;
  changed?: unknown[];
  memory?: Record<string, Record<string, number>>;
}

/** The Node the agent image runs (test/env caches it); the agent targets node24. */
function agentNode(): string {
  return process.env['FLOTILLA_BENCH_NODE'] ?? join(envCacheDir(), 'node', '24', 'bin', 'node');
}

/** Runs a command under GNU time; `%e %M` = elapsed seconds and peak RSS in KiB, on stderr's last line. */
async function measure(command: string, args: string[]): Promise<Sample & { stdout: string }> {
  const { stdout, stderr } = await execFileAsync('/usr/bin/time', ['-f', '%e %M', command, ...args], { maxBuffer: 256 * 1024 * 1024 });
  const [elapsed = 'NaN', peakKiB = 'NaN'] = stderr.trim().split('\n').at(-1)!.split(' ');
  return { wallSeconds: Number(elapsed), peakRssMiB: Number(peakKiB) / 1024, stdout };
}

async function measureAgent(args: string[]): Promise<Sample> {
  const sample = await measure(agentNode(), args);
  const result = JSON.parse(sample.stdout) as { elapsedMs: number; startupMs: number; counts: Record<string, number>; changed: unknown[]; memory: Sample['memory'] };
  return { ...sample, inProcessSeconds: result.elapsedMs / 1000, startupSeconds: result.startupMs / 1000, counts: result.counts, changed: result.changed, memory: result.memory };
}

function printDrift(figures: DriftFigures): void {
  const reverts = [...figures.revertSeconds].sort((a, b) => a - b);
  const breakdown = Object.entries(figures.requests)
    .sort(([, a], [, b]) => b - a)
    .map(([key, count]) => `${key} ${count}`)
    .join(', ');
  console.log(`apiserver requests in ${figures.quietSeconds} s for the agent's kinds (every client's; apiserver_request_total): ${breakdown || 'none'}`);
  console.log(`  = ${figures.requestsPerObjectHour.toFixed(2)} per object per hour (target ≤ 1; a dry-run of every object every 30 s was 120)`);
  console.log(`  = ${figures.steadyPerObjectHour.toFixed(2)} without the APPLY dry-runs, which re-verify objects the controllers changed once after creation`);
  console.log(`kubectl edit → reverted, ${reverts.length} ConfigMaps: median ${reverts[Math.floor(reverts.length / 2)]?.toFixed(2)} s, max ${reverts.at(-1)?.toFixed(2)} s (target ≤ 2 s)`);
  console.log(`the agent's peak RSS (apply 500, watch, revert): ${figures.peakRssMiB.toFixed(0)} MiB (target ≤ 64)`);
}

async function main(): Promise<void> {
  const rounds = Number(process.env['FLOTILLA_BENCH_ROUNDS'] ?? 3);
  const quietSeconds = Number(process.env['FLOTILLA_BENCH_QUIET_SECONDS'] ?? 360);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new Error('FLOTILLA_BENCH_ROUNDS must be a whole number from 1 to 100');
  if (!Number.isInteger(quietSeconds) || quietSeconds < 10 || quietSeconds > 86_400) {
    throw new Error('FLOTILLA_BENCH_QUIET_SECONDS must be a whole number of seconds from 10 to 86400');
  }
  let kubeconfig = process.env['FLOTILLA_BENCH_KUBECONFIG'];
  let kubectl = process.env['FLOTILLA_BENCH_KUBECTL'] ?? join(envBinDir(), 'kubectl');
  let registryHost = process.env['FLOTILLA_BENCH_REGISTRY'];
  let stopEnv: (() => Promise<void>) | undefined;
  if (!kubeconfig) {
    console.log('starting a one-cluster test environment…');
    const running = await startTestEnv({ clusterNames: ['bench'], tokenRegistry: false });
    kubeconfig = running.env.clusters[0]!.kubeconfigPath;
    kubectl = running.env.bin.kubectl;
    registryHost = running.env.registries.anonymous.host;
    stopEnv = () => running.stop();
  }
  // FLOTILLA_BENCH_NODE_FLAGS="--flag …" tries other Node flags than the agent's (how they were chosen).
  const nodeFlags = process.env['FLOTILLA_BENCH_NODE_FLAGS']?.split(/\s+/).filter(Boolean) ?? [...AGENT_NODE_FLAGS];
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-'));
  const workerBundle = await bundleLikeAgent('test/bench/agent-apply-worker.ts', join(import.meta.dirname, '..', '..', 'dist', 'bench', 'agent-apply-worker.mjs'));
  const nodeVersion = (await execFileAsync(agentNode(), ['--version'])).stdout.trim();
  const client = await KubeClient.create(kubeconfig);
  const created: string[] = [];
  try {
    const versionOutput = JSON.parse((await execFileAsync(kubectl, ['version', '--client', '-o', 'json'])).stdout) as { clientVersion: { gitVersion: string } };
    const version = versionOutput.clientVersion.gitVersion;
    // Warm-up: the apiserver's first-request costs, for neither tool's benefit.
    await execFileAsync(kubectl, ['--kubeconfig', kubeconfig, 'get', 'ns']);

    const samples: Record<'agentApply' | 'kubectlApply' | 'agentCheck' | 'kubectlCheck', Sample[]> = {
      agentApply: [],
      kubectlApply: [],
      agentCheck: [],
      kubectlCheck: [],
    };
    for (let round = 0; round < rounds; round++) {
      const suffix = `${Date.now().toString(36)}-${round}`;
      const files = { agent: join(dir, `agent-${round}.yaml`), kubectl: join(dir, `kubectl-${round}.yaml`) };
      for (const tool of ['agent', 'kubectl'] as const) {
        const namespace = `bench-${tool}-${suffix}`;
        created.push(namespace);
        await writeFile(files[tool], benchObjects(namespace).map((object) => stringify(object)).join('---\n'));
      }
      const worker = (mode: string) => [...nodeFlags, workerBundle.file, kubeconfig, files.agent, mode];
      const kubectlArgs = (verb: string[]) => ['--kubeconfig', kubeconfig, ...verb, '--field-manager', 'bench-kubectl', '-f', files.kubectl];
      const steps = {
        agentApply: () => measureAgent(worker('apply')),
        kubectlApply: () => measure(kubectl, kubectlArgs(['apply', '--server-side'])),
        agentCheck: () => measureAgent(worker('check')),
        // kubectl diff exits 1 when there are differences; after its own apply there are none.
        kubectlCheck: () => measure(kubectl, kubectlArgs(['diff', '--server-side'])),
      };
      // Alternate who goes first, so neither tool always meets a warmer (or busier) apiserver.
      const order = round % 2 === 0 ? (['agent', 'kubectl'] as const) : (['kubectl', 'agent'] as const);
      for (const phase of ['Apply', 'Check'] as const) {
        for (const tool of order) samples[`${tool}${phase}`].push(await steps[`${tool}${phase}`]());
      }
      const check = samples.agentCheck.at(-1)!;
      if (check.counts?.['unchanged'] !== OBJECT_COUNT) {
        throw new Error(`re-check found changes: ${JSON.stringify(check.counts)} ${JSON.stringify(check.changed)}`);
      }
    }

    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
    const summary = Object.fromEntries(
      Object.entries(samples).map(([name, list]) => [
        name,
        { wall: median(list.map((sample) => sample.wallSeconds)), rss: median(list.map((sample) => sample.peakRssMiB)), inProcess: median(list.map((sample) => sample.inProcessSeconds ?? Number.NaN)) },
      ]),
    ) as Record<keyof typeof samples, { wall: number; rss: number; inProcess: number }>;
    const row = (name: string, m: { wall: number; rss: number; inProcess: number }) =>
      `${name.padEnd(32)} ${m.wall.toFixed(2).padStart(8)} s ${(Number.isNaN(m.inProcess) ? '' : m.inProcess.toFixed(2) + ' s').padStart(12)} ${m.rss.toFixed(0).padStart(8)} MiB`;
    const ratio = (a: number, b: number) => (a / b).toFixed(2) + '×';
    console.log(`\n${OBJECT_COUNT} objects (ConfigMaps, Secrets, Services, Deployments + their Namespace), one apiserver, kubectl ${version}`);
    console.log(`median of ${rounds} round(s); every round uses fresh namespaces; load average ${loadavg().map((load) => load.toFixed(1)).join(' ')}`);
    console.log(`agent: bundled worker (${(workerBundle.bytes / 1024).toFixed(0)} KiB), node ${nodeVersion} ${nodeFlags.join(' ')}`.trimEnd());
    console.log(`${''.padEnd(32)} ${'wall'.padStart(10)} ${'in-process'.padStart(12)} ${'peak RSS'.padStart(12)}`);
    console.log(row('agent apply (create)', summary.agentApply));
    console.log(row('kubectl apply --server-side', summary.kubectlApply));
    console.log(row('agent re-check (unchanged)', summary.agentCheck));
    console.log(row('kubectl diff --server-side', summary.kubectlCheck));
    const startup = median(samples.agentCheck.map((sample) => sample.startupSeconds ?? Number.NaN));
    console.log(`agent start-up to first request (module load, YAML parse, kubeconfig), re-check: ${(startup * 1000).toFixed(0)} ms`);
    console.log('\nratios agent / kubectl (wall, which includes starting Node and loading the bundle; in-process in parentheses):');
    for (const [label, agent, kubectlStep] of [['apply   ', summary.agentApply, summary.kubectlApply], ['re-check', summary.agentCheck, summary.kubectlCheck]] as const) {
      console.log(`  ${label}  time ${ratio(agent.wall, kubectlStep.wall)} (${ratio(agent.inProcess, kubectlStep.wall)}), peak RSS ${ratio(agent.rss, kubectlStep.rss)}`);
    }
    if (process.env['FLOTILLA_BENCH_DRIFT'] !== '0') {
      if (!registryHost) {
        console.log('\nthe drift figures need a registry: set FLOTILLA_BENCH_REGISTRY=host:port (plain HTTP) beside FLOTILLA_BENCH_KUBECONFIG');
      } else {
        console.log(`\nthe shipped agent keeping the same ${OBJECT_COUNT} objects quiet for ${quietSeconds} s (default settings)…`);
        printDrift(await measureDrift({ kubeconfig, kubectl, registryHost, node: agentNode(), objects: benchObjects, quietSeconds, edits: 5 }));
      }
    }
    if (process.env['FLOTILLA_BENCH_MEMORY']) {
      console.log('\nprocess.memoryUsage() of the last agent runs, MiB:');
      for (const name of ['agentApply', 'agentCheck'] as const) console.log(`  ${name}: ${JSON.stringify(samples[name].at(-1)?.memory)}`);
    }
  } finally {
    for (const namespace of created) await client.request('DELETE', `/api/v1/namespaces/${namespace}`, { allowStatus: [404] });
    client.close();
    await rm(dir, { recursive: true, force: true });
    await stopEnv?.();
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench:agent: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
