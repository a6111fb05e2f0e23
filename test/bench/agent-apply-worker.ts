// One measured run of the agent's apply manager, in its own process so its peak memory can be
// measured like kubectl's: `apply` (objects are new) or `check` (objects are unchanged).
// Usage: tsx test/bench/agent-apply-worker.ts <kubeconfig> <objects.yaml> <apply|check>
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import { KubeClient, type KubeObject } from '../../agent/kube/client.ts';
import { countActions } from '../../agent/ssa/changeset.ts';
import { ResourceManager } from '../../agent/ssa/manager.ts';

const [kubeconfig, objectsFile, mode] = process.argv.slice(2);
if (!kubeconfig || !objectsFile || (mode !== 'apply' && mode !== 'check')) {
  throw new Error('usage: agent-apply-worker.ts <kubeconfig> <objects.yaml> <apply|check>');
}
const objects = parseAllDocuments(await readFile(objectsFile, 'utf8')).map((document) => document.toJS() as KubeObject);
const client = await KubeClient.create(kubeconfig);
const manager = new ResourceManager(client, { ownerLabels: { 'app.flotilla.dev/name': 'bench', 'app.flotilla.dev/managed-by': 'flotilla' } });
const started = performance.now();
// `check` is the agent's steady state: a dry-run of every object compared with the live one, no writes.
const result = await manager.applyAllStaged(objects, { dryRun: mode === 'check' });
const elapsedMs = performance.now() - started;
client.close();
// A few changed objects with their fields, to explain a re-check that was not clean.
const changed = result.entries.filter((entry) => entry.action !== 'unchanged').slice(0, 5).map((entry) => ({ subject: entry.subject, fields: entry.fields }));
process.stdout.write(JSON.stringify({ elapsedMs, counts: countActions(result.entries), changed }) + '\n');
