// Shared by the interop tests: a sample manifests directory, reading a directory back,
// running the real tools (oras, GNU tar, Flux's library through fluxhelper).
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs a program; on failure the error says what it printed. */
export async function run(program: string, args: string[], options: { cwd?: string } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(program, args, { ...options, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${program} ${args.join(' ')} failed: ${(error as Error).message}\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

/** Builds (once per source change, see build.sh) and returns the path of the Flux library helper. */
export async function fluxHelperPath(): Promise<string> {
  const buildScript = join(dirname(fileURLToPath(import.meta.url)), 'fluxhelper', 'build.sh');
  const output = await run('bash', [buildScript]);
  return output.trim().split('\n').at(-1) ?? '';
}

/** What a release directory looks like, plus the names that stress tar formats. */
export const sampleFiles: Record<string, string | Buffer> = {
  'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [apps]\n',
  'apps/web/deployment.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n',
  'apps/web/service.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n',
  'apps/db/statefulset.yaml': 'apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\n',
  [`crds/${'long-directory-name-'.repeat(5)}/${'customresourcedefinition-'.repeat(4)}.yaml`]: 'kind: CustomResourceDefinition\n',
  [`${'x'.repeat(130)}.yaml`]: 'one very long name\n',
  'config/ünïcödé-名前.yaml': 'kind: ConfigMap\n',
  'empty.yaml': '',
  'data/blob.bin': randomBytes(70_000),
};

export async function scratchDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `flotilla-interop-${prefix}-`));
}

/** Writes files with the modes Flux would keep as they are (0644 files, 0755 directories, the root too). */
export async function writeTree(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  await chmod(dir, 0o755);
  for (const [path, content] of Object.entries(files)) {
    const target = join(dir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
    await chmod(target, 0o644);
    for (let parent = dirname(target); parent.startsWith(dir) && parent !== dir; parent = dirname(parent)) {
      await chmod(parent, 0o755);
    }
  }
}

/** Every regular file under dir, by slash-separated relative path. */
export async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const absolute = join(entry.parentPath, entry.name);
    files.set(relative(dir, absolute).split('\\').join('/'), await readFile(absolute));
  }
  return files;
}

/** Files as a sorted plain object (base64 content) so a failing comparison shows which file differs. */
export function comparable(files: Map<string, Buffer> | Record<string, string | Buffer>): Record<string, string> {
  const entries = files instanceof Map ? [...files] : Object.entries(files);
  return Object.fromEntries(
    entries
      .map(([path, content]) => [path, Buffer.from(content).toString('base64')] as const)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}

/** A repository name no other test (or earlier run against the same registry) uses. */
export function uniqueRepositoryName(prefix: string): string {
  return `flotilla-interop/${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function removeDirs(dirs: string[]): Promise<void> {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}
