// `npm run fuzz`: schemathesis against `npm start`'s control plane, once with a token of every role,
// every phase (examples, coverage, fuzzing, stateful), every check. Prints per role and in all the
// requests sent, server errors and schema violations; exits non-zero when either is not 0.
// Not part of `npm test` (it runs for minutes); FUZZ_EXAMPLES sets the examples per operation.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Grant } from '../../lib/api/schemas.ts';
import { startLocalControlPlane } from '../../functions/local-server.ts';
import { envBinDir } from '../env/harness.ts';

const EXAMPLES = Number(process.env.FUZZ_EXAMPLES ?? 60);
/** Where schemathesis's reports are kept (by default they go with the run's temp directory). */
const REPORTS = process.env.FUZZ_REPORT_DIR;
const ROLES: { role: string; grants: Grant[] }[] = [
  { role: 'admin', grants: [{ role: 'admin' }] },
  { role: 'publisher', grants: [{ role: 'publisher' }] },
  { role: 'promoter', grants: [{ role: 'promoter' }] },
  { role: 'viewer', grants: [{ role: 'viewer' }] },
];

const dir = await mkdtemp(join(tmpdir(), 'flotilla-fuzz-'));
const plane = await startLocalControlPlane({ dataDir: join(dir, 'data') });

async function admin(method: string, path: string, body?: unknown) {
  const res = await fetch(`${plane.url}${path}`, { method, headers: { authorization: `Bearer ${plane.adminToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw new Error(`seeding ${method} ${path}: ${res.status} ${await res.text()}`);
}

// A small world, so that generated requests also meet existing resources.
await admin('PUT', '/v1/environments/dev', {});
await admin('PUT', '/v1/environments/prod', { upstream: 'dev' });
await admin('PUT', '/v1/apps/web', { repository: '127.0.0.1:5000/team/web' });
await admin('PUT', '/v1/apps/web/environments/dev', { track: '^1.0.0' });
await admin('POST', '/v1/apps/web/releases', { version: '1.0.0', digest: `sha256:${'a'.repeat(64)}` });
await admin('PUT', '/v1/clusters/dev-1', { environment: 'dev', region: 'us' });

interface Tally {
  requests: number;
  serverErrors: number;
  schemaViolations: number;
  /** Checks that failed, with an operation each failed on. */
  failures: Map<string, string>;
}

type Recorder = {
  label: string;
  interactions?: Record<string, { response?: { status_code?: number } | null }>;
  checks?: Record<string, { name: string; status: string }[]>;
};

/** Reads schemathesis's ndjson report: every request it sent and every check it ran. */
async function tally(reportDir: string): Promise<Tally> {
  const result: Tally = { requests: 0, serverErrors: 0, schemaViolations: 0, failures: new Map() };
  for (const file of await readdir(reportDir)) {
    if (!file.endsWith('.ndjson')) continue;
    for (const line of (await readFile(join(reportDir, file), 'utf8')).split('\n')) {
      if (!line.startsWith('{"ScenarioFinished"')) continue;
      const recorder = (JSON.parse(line) as { ScenarioFinished: { recorder: Recorder } }).ScenarioFinished.recorder;
      for (const interaction of Object.values(recorder.interactions ?? {})) {
        result.requests++;
        if ((interaction.response?.status_code ?? 0) >= 500) result.serverErrors++;
      }
      for (const check of Object.values(recorder.checks ?? {}).flat()) {
        if (check.status !== 'failure') continue;
        if (check.name === 'response_schema_conformance') result.schemaViolations++;
        if (!result.failures.has(check.name)) result.failures.set(check.name, recorder.label);
      }
    }
  }
  return result;
}

const st = join(envBinDir(), 'st');
const totals: Tally = { requests: 0, serverErrors: 0, schemaViolations: 0, failures: new Map() };
let exitCode = 0;
try {
  for (const { role, grants } of ROLES.filter(({ role }) => !process.env.FUZZ_ROLES || process.env.FUZZ_ROLES.split(',').includes(role))) {
    const { token } = await plane.services.tokens.mintUserToken({ subject: `fuzz-${role}`, grants, ttlSeconds: 3600 });
    const reportDir = join(REPORTS ?? dir, `report-${role}`);
    const args = ['run', `${plane.url}/openapi.json`, '-H', `Authorization: Bearer ${token}`, '--checks', 'all', '--phases', 'examples,coverage,fuzzing,stateful', '--max-examples', String(EXAMPLES), '--workers', '2', '--report', 'ndjson', '--report-dir', reportDir, '--suppress-health-check', 'all', '--warnings', 'off', '--no-color'];
    const output = await new Promise<string>((done) => execFile(st, args, { maxBuffer: 256 * 1024 * 1024 }, (_error, stdout, stderr) => done(stdout + stderr)));
    const result = await tally(reportDir);
    console.log(`${role.padEnd(9)} requests ${String(result.requests).padStart(6)}   server errors ${result.serverErrors}   schema violations ${result.schemaViolations}`);
    if (result.requests === 0) console.log(output.split('\n').slice(-30).join('\n'));
    totals.requests += result.requests;
    totals.serverErrors += result.serverErrors;
    totals.schemaViolations += result.schemaViolations;
    for (const [check, operation] of result.failures) if (!totals.failures.has(check)) totals.failures.set(check, operation);
  }
  console.log(`${'all'.padEnd(9)} requests ${String(totals.requests).padStart(6)}   server errors ${totals.serverErrors}   schema violations ${totals.schemaViolations}`);
  // What remains are rules a schema cannot state (a 404 for a resource that does not exist, a 409
  // for a state the request conflicts with): reported, not counted as failures.
  for (const [check, operation] of totals.failures) console.log(`other check that failed at least once: ${check} (e.g. ${operation})`);
  if (totals.serverErrors > 0 || totals.schemaViolations > 0) exitCode = 1;
} finally {
  await plane.stop();
  await rm(dir, { recursive: true, force: true });
}
process.exit(exitCode);
