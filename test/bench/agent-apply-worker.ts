// One measured run of the agent's apply manager, in its own process so its peak memory can be
// measured like kubectl's: `apply` (objects are new) or `check` (objects are unchanged). bench:agent
// bundles this file with the agent's esbuild options and runs it with the agent's Node flags.
// Usage: node <flags> agent-apply-worker.mjs <kubeconfig> <objects.yaml> <apply|check>
// FLOTILLA_BENCH_MEMORY=1 adds process.memoryUsage() at each step to the output (README, "Agent memory").
import { readFile } from 'node:fs/promises';
import { buildObjects } from '../../agent/artifact.ts';
import { KubeClient } from '../../agent/kube/client.ts';
import { countActions } from '../../agent/ssa/changeset.ts';
import { ResourceManager } from '../../agent/ssa/manager.ts';

const startedAt = performance.now();
const [kubeconfig, objectsFile, mode] = process.argv.slice(2);
if (!kubeconfig || !objectsFile || (mode !== 'apply' && mode !== 'check')) {
  throw new Error('usage: agent-apply-worker.mjs <kubeconfig> <objects.yaml> <apply|check>');
}
const memory: Record<string, Record<string, number>> = {};
const mark = (step: string) => {
  if (!process.env['FLOTILLA_BENCH_MEMORY']) return;
  const usage = process.memoryUsage();
  memory[step] = Object.fromEntries(Object.entries(usage).map(([name, bytes]) => [name, Math.round((bytes / 1024 / 1024) * 10) / 10]));
};
mark('loaded');
// The agent's own path from artifact files to objects (agent/artifact.ts).
const objects = buildObjects(new Map([['objects.yaml', await readFile(objectsFile)]]), '.');
mark('parsed');
const client = await KubeClient.create(kubeconfig);
const manager = new ResourceManager(client, { ownerLabels: { 'app.flotilla.dev/name': 'bench', 'app.flotilla.dev/managed-by': 'flotilla' } });
const started = performance.now();
// `check` is the agent's steady state: a dry-run of every object compared with the live one, no writes.
const result = await manager.applyAllStaged(objects, { dryRun: mode === 'check' });
const elapsedMs = performance.now() - started;
mark('applied');
client.close();
// A few changed objects with their fields, to explain a re-check that was not clean.
const changed = result.entries.filter((entry) => entry.action !== 'unchanged').slice(0, 5).map((entry) => ({ subject: entry.subject, fields: entry.fields }));
const startupMs = started - startedAt;
process.stdout.write(JSON.stringify({ elapsedMs, startupMs, counts: countActions(result.entries), changed, memory }) + '\n');
