// Kustomize: an app path holding a kustomization is built by the real `kustomize build` (the
// standalone sigs.k8s.io/kustomize/kustomize/v5 pinned in test/env/setup and shipped next to the
// agent in its image), as Flux's kustomize-controller builds it, behind four walls:
//   1. before anything runs, every kustomization the build can reach is read and refused if it
//      names anything outside the artifact: a URL or git/ssh reference (kustomize would clone or
//      download it), an absolute path, a `..` climbing out of the artifact root, a path that is not
//      in the artifact (kustomize would try it as a remote base), Helm charts, and generator,
//      transformer or validator configs that are not kustomize's builtins (exec and KRM function
//      plugins);
//   2. the build runs on a fresh private directory holding only the artifact's files, with
//      `--load-restrictor LoadRestrictionsRootOnly`, no plugins, no exec, no Helm, an empty
//      environment (no HOME, KUBECONFIG, credentials or PATH, so no git either) and a dead proxy;
//   3. a wall-clock timeout kills its whole process group;
//   4. its output is capped in bytes.
// Every refusal is a KustomizeError of one sentence; the reconciler reports it as BuildFailed and
// applies nothing.
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { CORE_SCHEMA, loadAll } from 'js-yaml';

/** An unpacked artifact, relative path → content (artifact.ts's ArtifactFiles; not imported, which would be a cycle). */
type ArtifactFiles = Map<string, Buffer>;

/** The names kustomize looks for in a directory, in its own order. */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;

export const KUSTOMIZE_DEFAULTS = {
  timeoutMs: 30_000,
  /** The built YAML; generous for thousands of objects, and well short of the agent's memory. */
  maxOutputBytes: 16 * 1024 * 1024,
} as const;
const MAX_STDERR_BYTES = 64 * 1024;
const MAX_KUSTOMIZATIONS = 1_000;
/** What one build may write to disk: /tmp is the agent's one writable place (an emptyDir of 64 MiB in agent/install.ts). */
const MAX_WRITTEN_BYTES = 32 * 1024 * 1024;

export interface KustomizeOptions {
  /** The kustomize binary; undefined means none was found (an app with a kustomization fails). */
  binary?: string;
  timeoutMs?: number;
  maxOutputBytes?: number;
}

export class KustomizeError extends Error {
  constructor(
    message: string,
    /** The same files give the same error (a refusal, a kustomize error), as opposed to a timeout or a missing binary. */
    readonly deterministic = true,
  ) {
    super(`kustomize: ${message}`);
    this.name = 'KustomizeError';
  }
}

/** Where the agent looks for kustomize: FLOTILLA_KUSTOMIZE, else `kustomize` next to the agent's own script. */
export function kustomizeBinary(setting: string | undefined, agentScript: string | undefined): string | undefined {
  if (setting) return setting;
  if (!agentScript) return undefined;
  const beside = join(dirname(agentScript), 'kustomize');
  return existsSync(beside) ? beside : undefined;
}

/** The kustomization file directly in `dir` ("" is the artifact root), if any. */
export function kustomizationIn(files: ArtifactFiles, dir: string): string | undefined {
  for (const name of KUSTOMIZATION_FILES) {
    const path = dir ? `${dir}/${name}` : name;
    if (files.has(path)) return path;
  }
  return undefined;
}

/** Normalises an app path ("./deploy/prod/") to an artifact directory ("deploy/prod"; "" is the root). */
export function artifactDir(path: string): string {
  return path.replace(/^\.\/?/, '').replace(/\/+$/, '');
}

// ---- 1. The scan ----------------------------------------------------------------------------

/** What kustomize would take for a remote base or file: URLs, scp-like git refs, go-getter forms, bare hosts. */
function looksRemote(entry: string): boolean {
  return (
    /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) || // https://, ssh://, git://, file://
    /^[a-z][a-z0-9+.-]*::/i.test(entry) || // git::https://…
    /^[\w.-]+@[\w.-]+:/.test(entry) || // git@github.com:org/repo
    /^(github\.com|gitlab\.com|bitbucket\.org)[/:]/i.test(entry) ||
    /^gh:/i.test(entry) ||
    /[?&](ref|version|submodules|timeout)=/.test(entry) ||
    /\.git(\/\/|$|\?)/.test(entry) ||
    /^[a-z0-9-]+(\.[a-z0-9-]+)+\.[a-z]{2,}\//i.test(entry) // example.com/org/repo
  );
}

type Kind = 'file' | 'dir' | 'missing';

class Scan {
  private readonly dirs = new Set<string>();
  /** Every kustomization the build reaches. */
  readonly seen = new Set<string>();
  /** Plugin config files already checked: each is parsed once, however many entries name it. */
  private readonly plugins = new Set<string>();

  constructor(private readonly files: ArtifactFiles) {
    for (const name of files.keys()) {
      for (let dir = posix.dirname(name); dir !== '.'; dir = posix.dirname(dir)) this.dirs.add(dir);
    }
  }

  private kindOf(path: string): Kind {
    if (path === '') return 'dir';
    if (this.files.has(path)) return 'file';
    return this.dirs.has(path) ? 'dir' : 'missing';
  }

  /**
   * `entry` of `field` in kustomization `file`, resolved inside the artifact: refused when remote,
   * absolute or climbing out of the artifact root.
   */
  private resolve(file: string, field: string, entry: unknown): string {
    if (typeof entry !== 'string' || entry === '') throw new KustomizeError(`${file}: ${field} has an entry that is not a path`);
    const shown = JSON.stringify(entry.length > 200 ? `${entry.slice(0, 200)}…` : entry);
    if (looksRemote(entry)) throw new KustomizeError(`${file}: ${field} entry ${shown} is remote; only files inside the artifact may be used`);
    if (entry.startsWith('/') || entry.startsWith('~') || entry.includes('\\') || entry.includes('\0')) {
      throw new KustomizeError(`${file}: ${field} entry ${shown} is not a relative path inside the artifact`);
    }
    const resolved = posix.normalize(posix.join(posix.dirname(file), entry));
    if (resolved === '..' || resolved.startsWith('../')) {
      throw new KustomizeError(`${file}: ${field} entry ${shown} points outside the artifact`);
    }
    return resolved === '.' ? '' : resolved.replace(/\/+$/, '');
  }

  /** A path that must exist in the artifact, as a file or a directory. */
  private existing(file: string, field: string, entry: unknown): { path: string; kind: Kind } {
    const path = this.resolve(file, field, entry);
    const kind = this.kindOf(path);
    if (kind === 'missing') {
      throw new KustomizeError(`${file}: ${field} entry ${JSON.stringify(entry)} is not in the artifact (remote bases are not allowed)`);
    }
    return { path, kind };
  }

  /** A kustomization directory (a base, an overlay, a component): scanned in turn. */
  private kustomizationDir(file: string, field: string, dir: string): void {
    const kustomization = kustomizationIn(this.files, dir);
    if (!kustomization) throw new KustomizeError(`${file}: ${field} entry ${JSON.stringify(dir || '.')} is a directory without a kustomization`);
    this.kustomization(kustomization);
  }

  kustomization(file: string): void {
    if (this.seen.has(file)) return;
    this.seen.add(file);
    if (this.seen.size > MAX_KUSTOMIZATIONS) throw new KustomizeError(`more than ${MAX_KUSTOMIZATIONS} kustomizations reachable from the app's path`);
    const documents = parseYaml(file, this.files.get(file) as Buffer);
    if (documents.length !== 1 || !isRecord(documents[0])) throw new KustomizeError(`${file}: not a kustomization (one YAML mapping expected)`);
    const k = documents[0];
    for (const field of ['helmCharts', 'helmGlobals', 'helmChartInflationGenerator']) {
      if (k[field] !== undefined) throw new KustomizeError(`${file}: ${field} is not supported (Helm charts are not inflated by the agent)`);
    }
    for (const field of ['resources', 'bases', 'components']) {
      for (const entry of list(file, k, field)) {
        const { path, kind } = this.existing(file, field, entry);
        if (kind === 'dir') this.kustomizationDir(file, field, path);
      }
    }
    for (const field of ['crds', 'configurations']) {
      for (const entry of list(file, k, field)) this.existing(file, field, entry);
    }
    for (const field of ['generators', 'transformers', 'validators']) {
      for (const entry of list(file, k, field)) this.plugin(file, field, entry);
    }
    // Patches: a path, or the patch inline.
    for (const entry of list(file, k, 'patchesStrategicMerge')) {
      if (typeof entry === 'string' && !entry.includes('\n')) this.resolve(file, 'patchesStrategicMerge', entry);
    }
    for (const field of ['patches', 'patchesJson6902', 'replacements']) {
      for (const entry of list(file, k, field)) {
        if (isRecord(entry) && entry['path'] !== undefined) this.existing(file, `${field}.path`, entry['path']);
      }
    }
    if (isRecord(k['openapi']) && k['openapi']['path'] !== undefined) this.existing(file, 'openapi.path', k['openapi']['path']);
    for (const field of ['configMapGenerator', 'secretGenerator']) {
      for (const generator of list(file, k, field)) {
        if (!isRecord(generator)) continue;
        for (const entry of list(file, generator, 'files')) {
          // `key=path` or `path`.
          const path = typeof entry === 'string' && entry.includes('=') ? entry.slice(entry.indexOf('=') + 1) : entry;
          this.existing(file, `${field}.files`, path);
        }
        for (const entry of list(file, generator, 'envs')) this.existing(file, `${field}.envs`, entry);
        if (generator['env'] !== undefined) this.existing(file, `${field}.env`, generator['env']);
      }
    }
  }

  /**
   * A generator, transformer or validator: a file of builtin plugin configs, a kustomization
   * directory, or a config inline. Anything but kustomize's builtins is an external plugin (an exec
   * program or a KRM function in a container): refused here, and disabled in the build anyway.
   */
  private plugin(file: string, field: string, entry: unknown): void {
    let documents: unknown[];
    let where: string;
    if (typeof entry === 'string' && entry.includes('\n')) {
      documents = parseYaml(`${file} (inline ${field})`, Buffer.from(entry));
      where = `${file}: an inline ${field} entry`;
    } else {
      const { path, kind } = this.existing(file, field, entry);
      if (kind === 'dir') return this.kustomizationDir(file, field, path);
      if (this.plugins.has(path)) return;
      this.plugins.add(path);
      documents = parseYaml(path, this.files.get(path) as Buffer);
      where = `${file}: ${field} entry ${JSON.stringify(entry)}`;
    }
    for (const document of documents) {
      if (document === null || document === undefined) continue;
      if (!isRecord(document)) throw new KustomizeError(`${where} is not a plugin config`);
      const metadata = isRecord(document['metadata']) ? document['metadata'] : {};
      const annotations = isRecord(metadata['annotations']) ? metadata['annotations'] : {};
      const fn = Object.keys(annotations).find((key) => /^config\.(kubernetes\.io|k8s\.io)\/function$/.test(key) || key === 'config.kubernetes.io/exec');
      if (fn) throw new KustomizeError(`${where} is a KRM function or exec plugin (annotation ${fn}); plugins are not allowed`);
      // The one builtin that runs a program (helm); the same wall as helmCharts.
      if (document['kind'] === 'HelmChartInflationGenerator') throw new KustomizeError(`${where} is a HelmChartInflationGenerator; Helm charts are not inflated by the agent`);
      if (document['apiVersion'] !== 'builtin') {
        throw new KustomizeError(`${where} is the external plugin ${String(document['apiVersion'])}/${String(document['kind'])}; only kustomize's builtin plugins are allowed`);
      }
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function list(file: string, object: Record<string, unknown>, field: string): unknown[] {
  const value = object[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new KustomizeError(`${file}: ${field} is not a list`);
  return value;
}

function parseYaml(name: string, content: Buffer): unknown[] {
  const documents: unknown[] = [];
  try {
    loadAll(content.toString('utf8'), (document) => documents.push(document), { schema: CORE_SCHEMA, maxAliases: 100, maxDepth: 64, filename: name });
  } catch (error) {
    throw new KustomizeError(`${name}: invalid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  return documents;
}

/**
 * Refuses, before anything runs, a kustomization at `dir` or any it reaches that names something
 * outside the artifact; returns the directories of the kustomizations it reaches (with the
 * root-only load restrictor, the only places the build can read).
 */
export function checkKustomization(files: ArtifactFiles, dir: string): string[] {
  const file = kustomizationIn(files, dir);
  if (!file) throw new KustomizeError(`no kustomization in "${dir || '.'}"`);
  const scan = new Scan(files);
  scan.kustomization(file);
  return [...scan.seen].map((kustomization) => (kustomization.includes('/') ? posix.dirname(kustomization) : ''));
}

/** The artifact's files under `dirs`: what the build may read, and all it gets. */
function filesUnder(files: ArtifactFiles, dirs: string[]): ArtifactFiles {
  if (dirs.includes('')) return files;
  const prefixes = dirs.map((dir) => `${dir}/`);
  return new Map([...files].filter(([name]) => prefixes.some((prefix) => name.startsWith(prefix))));
}

// ---- 2–4. The build -------------------------------------------------------------------------

/** A name as the untar let it through, checked again before it becomes a path on disk. */
function safeRelative(name: string): string {
  const parts = name.split('/');
  if (name.startsWith('/') || name.includes('\\') || name.includes('\0') || parts.some((part) => part === '' || part === '.' || part === '..')) {
    throw new KustomizeError(`the artifact holds the unsafe file name ${JSON.stringify(name)}`);
  }
  return name;
}

async function writeArtifact(root: string, files: ArtifactFiles): Promise<void> {
  const bytes = [...files.values()].reduce((sum, content) => sum + content.length, 0);
  if (bytes > MAX_WRITTEN_BYTES) throw new KustomizeError(`the kustomizations' directories hold ${bytes} bytes, over the ${MAX_WRITTEN_BYTES} a build may use`);
  const made = new Set<string>();
  for (const [name, content] of files) {
    const target = join(root, safeRelative(name));
    const parent = dirname(target);
    if (!made.has(parent)) {
      await mkdir(parent, { recursive: true, mode: 0o700 });
      made.add(parent);
    }
    // `wx`: a fresh directory, so nothing is there to follow or overwrite.
    await writeFile(target, content, { flag: 'wx', mode: 0o600 });
  }
}

/** The environment of the build: nothing of the agent's own (no HOME, KUBECONFIG, tokens, PATH). */
function buildEnvironment(home: string): NodeJS.ProcessEnv {
  const deadProxy = 'http://127.0.0.1:9';
  return {
    HOME: home,
    XDG_CONFIG_HOME: home,
    KUSTOMIZE_PLUGIN_HOME: join(home, 'no-plugins'),
    HTTP_PROXY: deadProxy,
    HTTPS_PROXY: deadProxy,
    http_proxy: deadProxy,
    https_proxy: deadProxy,
    NO_PROXY: '',
    GIT_TERMINAL_PROMPT: '0',
    GOMAXPROCS: '1',
    GOMEMLIMIT: '256MiB',
  };
}

/** Kills the build's whole process group (kustomize and anything it started). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

interface RunResult {
  stdout: Buffer;
  stderr: string;
  code: number | null;
}

async function run(binary: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number, maxOutputBytes: number): Promise<RunResult> {
  // Loaded only here, as in kube/exec.ts: node:child_process costs ~3 MiB that agents whose apps
  // hold no kustomization never need.
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let outputBytes = 0;
    let stderr = '';
    let failure: KustomizeError | undefined;
    const fail = (error: KustomizeError) => {
      failure ??= error;
      killGroup(child.pid);
    };
    const timer = setTimeout(() => fail(new KustomizeError(`the build took longer than ${Math.round(timeoutMs / 1000)}s and was stopped`, false)), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      if (failure) return;
      outputBytes += chunk.length;
      if (outputBytes > maxOutputBytes) {
        fail(new KustomizeError(`the build's output is over ${maxOutputBytes} bytes and was stopped`));
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_STDERR_BYTES) stderr += chunk.toString('utf8').slice(0, MAX_STDERR_BYTES - stderr.length);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'ENOENT' || error.code === 'EACCES'
        ? new KustomizeError(`the kustomize binary ${binary} cannot be run (${error.code}); set FLOTILLA_KUSTOMIZE or use the agent image, which ships it`, false)
        : new KustomizeError(`kustomize could not be started: ${error.message}`, false));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      // Anything the build left running in its group goes too.
      killGroup(child.pid);
      if (failure) reject(failure);
      else resolve({ stdout: Buffer.concat(chunks), stderr, code });
    });
  });
}

/** kustomize's error (it may span lines) as one line, with the temporary directory taken out of its paths. */
function errorLine(stderr: string, root: string): string {
  const start = /(^|\n)Error: /.exec(stderr);
  const text = (start ? stderr.slice(start.index + start[0].length) : stderr).replace(/\s+/g, ' ').trim() || 'the build failed without a message';
  return text.split(`${root}/`).join('').split(root).join('.').slice(0, 2_000);
}

/** `kustomize build` of artifact directory `dir`: the YAML it prints. Throws KustomizeError. */
export async function kustomizeBuild(files: ArtifactFiles, dir: string, options: KustomizeOptions): Promise<string> {
  const reached = checkKustomization(files, dir);
  if (!options.binary) {
    throw new KustomizeError(`the app's path holds a kustomization but this agent has no kustomize binary; set FLOTILLA_KUSTOMIZE or use the agent image, which ships it`, false);
  }
  const work = await mkdtemp(join(tmpdir(), 'flotilla-kustomize-'));
  try {
    await chmod(work, 0o700);
    const root = join(work, 'artifact');
    const home = join(work, 'home');
    await mkdir(root, { mode: 0o700 });
    await mkdir(home, { mode: 0o700 });
    await writeArtifact(root, filesUnder(files, reached));
    const args = ['build', '--load-restrictor', 'LoadRestrictionsRootOnly', dir ? `./${dir}` : '.'];
    const result = await run(options.binary, args, root, buildEnvironment(home), options.timeoutMs ?? KUSTOMIZE_DEFAULTS.timeoutMs, options.maxOutputBytes ?? KUSTOMIZE_DEFAULTS.maxOutputBytes);
    if (result.code !== 0) throw new KustomizeError(errorLine(result.stderr, root));
    return result.stdout.toString('utf8');
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
