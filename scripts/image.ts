// `npm run image`: the agent's container image, built without a Docker daemon.
//
// An OCI image index for linux/amd64 and linux/arm64, each image three gzip layers:
//   base     Debian bookworm's C runtime that node links against (ld-linux, libc, libm, libdl,
//            libpthread, libstdc++, libgcc_s; found by reading node's ELF headers, not by a list),
//            their copyright files, /etc/passwd and /etc/group with the user 65532, /tmp
//   node     /usr/local/bin/node from the npm package node-linux-<arch>, and its LICENSE
//   kustomize /app/kustomize, the static sigs.k8s.io/kustomize/kustomize/v5 that test/env/setup
//            builds per architecture (the agent runs it for apps holding a kustomization), and its LICENSE
//   agent    /app: the bundle `npm run build` writes (flotilla-agent.mjs, its .map and LEGAL.txt)
// Inputs: the bundle (built first unless --bundle names one) and, per architecture, Node and the
// unpacked .debs that `FLOTILLA_ENV_ONLY=image npm run env:setup` puts in $CACHE/image/<arch>, and
// kustomize, which `FLOTILLA_ENV_ONLY=kustomize npm run env:setup` puts in $CACHE/image/kustomize/<arch>.
// Reproducible: sorted entries, uid/gid 0, zero mtimes (lib/oci/tar.ts), gzip without a name or
// time, a fixed `created` (SOURCE_DATE_EPOCH, default 0), so the same inputs give the same digest.
//
//   npm run image -- [--output dist/image] [--push host/name:tag] [--platform linux/amd64,linux/arm64]
//                    [--bundle dist/agent] [--inputs $CACHE/image] [--revision <git sha>]
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { RegistryClient } from '../lib/oci/client.ts';
import { digestOf } from '../lib/oci/digest.ts';
import { readDockerCredentials } from '../lib/oci/docker-config.ts';
import { OCI_INDEX_MEDIA_TYPE, OCI_LAYER_TAR_GZIP_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, type Descriptor } from '../lib/oci/manifest.ts';
import { formatRepository, parseReference } from '../lib/oci/reference.ts';
import { tarEnd, tarEntryBlocks, type TarEntry } from '../lib/oci/tar.ts';
import { AGENT_IMAGE_SOURCE, AGENT_UID, AGENT_VERSION } from '../agent/install.ts';
import { AGENT_NODE_FLAGS, buildAgent } from './build.ts';

const ROOT = resolve(import.meta.dirname, '..');

/** Node flags of the agent's entrypoint (agent/node-flags.ts; a test holds agent/Dockerfile to them). */
export { AGENT_NODE_FLAGS };

export { AGENT_UID };
export const NODE_PATH = '/usr/local/bin/node';
export const APP_DIR = '/app';
export const BUNDLE_FILES = ['flotilla-agent.mjs', 'flotilla-agent.mjs.map', 'flotilla-agent.mjs.LEGAL.txt'] as const;
/** Next to the bundle, where the agent looks for it (agent/kustomize.ts). */
export const KUSTOMIZE_PATH = `${APP_DIR}/kustomize`;
export const ENTRYPOINT = [NODE_PATH, ...AGENT_NODE_FLAGS, `${APP_DIR}/${BUNDLE_FILES[0]}`];
const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
// zlib's default: level 9 takes twice as long for 0.5 % less (node: 43.8 vs 43.6 MiB).
const GZIP_LEVEL = 6;
const gzipAsync = promisify(gzip);

export type Arch = 'amd64' | 'arm64';
export const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

/** Where each architecture's C runtime lives in Debian's multiarch layout. */
const MULTIARCH: Record<Arch, { triplet: string; elfMachine: number }> = {
  amd64: { triplet: 'x86_64-linux-gnu', elfMachine: 62 }, // EM_X86_64
  arm64: { triplet: 'aarch64-linux-gnu', elfMachine: 183 }, // EM_AARCH64
};

export function defaultInputsDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['FLOTILLA_ENV_CACHE'] ?? join(homedir(), '.cache', 'flotilla-env'), 'image');
}

export interface ImageOptions {
  /** Directory holding BUNDLE_FILES. */
  bundleDir: string;
  /** $CACHE/image: <arch>/node (the npm package) and <arch>/root (the unpacked .debs). */
  inputsDir?: string;
  arches?: readonly Arch[];
  version?: string;
  revision?: string;
  /** Seconds since the epoch for the config's `created`; default SOURCE_DATE_EPOCH, else 0. */
  sourceDateEpoch?: number;
}

export interface PlatformImage {
  arch: Arch;
  manifest: Descriptor;
  config: Descriptor;
  layers: (Descriptor & { name: string; uncompressedSize: number })[];
  /** Sum of the compressed layers and the config: what a pull downloads. */
  compressedSize: number;
}

export interface BuiltImage {
  index: Descriptor;
  platforms: PlatformImage[];
  /** Every blob (layers, configs, manifests, the index) by digest. */
  blobs: Map<string, Buffer>;
}

// ---- ELF: what node needs from the C runtime ------------------------------------------------

interface ElfDependencies {
  machine: number;
  interpreter?: string;
  needed: string[];
}

/** PT_INTERP and the DT_NEEDED names of a 64-bit little-endian ELF file. */
export function elfDependencies(file: Buffer, name = 'ELF file'): ElfDependencies {
  if (file.readUInt32BE(0) !== 0x7f454c46 || file[4] !== 2 || file[5] !== 1) {
    throw new Error(`${name} is not a 64-bit little-endian ELF file`);
  }
  const machine = file.readUInt16LE(18);
  const phoff = Number(file.readBigUInt64LE(32));
  const phentsize = file.readUInt16LE(54);
  const phnum = file.readUInt16LE(56);
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let dynamic: { offset: number; size: number } | undefined;
  let interpreter: string | undefined;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = file.readUInt32LE(at);
    const offset = Number(file.readBigUInt64LE(at + 8));
    const vaddr = Number(file.readBigUInt64LE(at + 16));
    const filesz = Number(file.readBigUInt64LE(at + 32));
    if (type === 1) loads.push({ vaddr, offset, filesz }); // PT_LOAD
    if (type === 2) dynamic = { offset, size: filesz }; // PT_DYNAMIC
    if (type === 3) interpreter = file.subarray(offset, offset + filesz).toString('latin1').replace(/\0+$/, ''); // PT_INTERP
  }
  if (!dynamic) return { machine, interpreter, needed: [] };
  const neededOffsets: number[] = [];
  let strtab: number | undefined;
  for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
    const tag = Number(file.readBigInt64LE(at));
    const value = Number(file.readBigUInt64LE(at + 8));
    if (tag === 0) break; // DT_NULL
    if (tag === 1) neededOffsets.push(value); // DT_NEEDED
    if (tag === 5) strtab = value; // DT_STRTAB (a virtual address)
  }
  const segment = loads.find((load) => strtab !== undefined && strtab >= load.vaddr && strtab < load.vaddr + load.filesz);
  if (strtab === undefined || !segment) throw new Error(`${name}: no string table for its dynamic section`);
  const strtabOffset = strtab - segment.vaddr + segment.offset;
  const needed = neededOffsets.map((offset) => {
    const start = strtabOffset + offset;
    return file.subarray(start, file.indexOf(0, start)).toString('latin1');
  });
  return { machine, interpreter, needed };
}

/** A path inside `root` with every symlink resolved inside `root` too (absolute targets are re-rooted). */
async function resolveInRoot(root: string, path: string, depth = 0): Promise<string> {
  if (depth > 16) throw new Error(`too many symlinks resolving ${path} in ${root}`);
  const parts = path.split('/').filter(Boolean);
  let current = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = posix.join(current, parts[i]!);
    const info = await stat(join(root, next)).catch(() => undefined);
    if (!info) throw new Error(`${path} is not in ${root}`);
    const link = await readlink(join(root, next)).catch(() => undefined);
    if (link !== undefined) {
      const target = posix.isAbsolute(link) ? link : posix.join(current, link);
      return resolveInRoot(root, posix.join(target, ...parts.slice(i + 1)), depth + 1);
    }
    current = next;
  }
  return current;
}

/**
 * The C runtime node needs: its interpreter and the transitive closure of DT_NEEDED, looked up in
 * the multiarch directories of `root`, each as a regular file at the path the loader will open.
 */
export async function runtimeLibraries(root: string, arch: Arch, executable: Buffer): Promise<Map<string, Buffer>> {
  const { triplet, elfMachine } = MULTIARCH[arch];
  const searchDirs = [`/lib/${triplet}`, `/usr/lib/${triplet}`];
  const files = new Map<string, Buffer>();
  const top = elfDependencies(executable, `node (${arch})`);
  if (top.machine !== elfMachine) throw new Error(`node for ${arch} is built for ELF machine ${top.machine}, not ${elfMachine}`);
  if (!top.interpreter) throw new Error(`node for ${arch} names no ELF interpreter`);
  files.set(top.interpreter, await readFile(join(root, await resolveInRoot(root, top.interpreter))));
  const queue = [...top.needed];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const soname = queue.shift()!;
    if (seen.has(soname)) continue;
    seen.add(soname);
    let found: string | undefined;
    for (const dir of searchDirs) {
      if (existsSync(join(root, dir, soname))) {
        found = posix.join(dir, soname);
        break;
      }
    }
    if (!found) throw new Error(`${soname}, which node for ${arch} needs, is not in ${root}${searchDirs.join(' or ')}`);
    const data = await readFile(join(root, await resolveInRoot(root, found)));
    files.set(found, data);
    queue.push(...elfDependencies(data, soname).needed);
  }
  return files;
}

// ---- Layers ---------------------------------------------------------------------------------

interface Layer {
  name: string;
  tar: Buffer;
  gzip: Buffer;
}

/** A tar of `files` (path → data, mode) with every parent directory, sorted by path. */
async function tarLayer(name: string, files: Map<string, { data: Uint8Array; mode: number }>, dirModes: Record<string, number> = {}): Promise<Layer> {
  const entries = new Map<string, TarEntry>();
  const addDir = (path: string) => {
    if (path === '/' || path === '.' || entries.has(path)) return;
    addDir(posix.dirname(path));
    entries.set(path, { type: 'directory', path: `${path.slice(1)}/`, mode: dirModes[path] ?? 0o755 });
  };
  for (const path of Object.keys(dirModes)) addDir(path);
  for (const [path, file] of files) {
    if (!path.startsWith('/')) throw new Error(`layer ${name}: ${path} is not absolute`);
    addDir(posix.dirname(path));
    entries.set(path, { type: 'file', path: path.slice(1), mode: file.mode, data: file.data });
  }
  const sorted = [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const tar = Buffer.concat([...sorted.flatMap(([, entry]) => tarEntryBlocks(entry)), tarEnd()]);
  // zlib's thread pool: the architectures' layers compress side by side.
  return { name, tar, gzip: await gzipAsync(tar, { level: GZIP_LEVEL }) };
}

const PASSWD = `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${AGENT_UID}:${AGENT_UID}:nonroot:/tmp:/sbin/nologin\n`;
const GROUP = `root:x:0:\nnonroot:x:${AGENT_UID}:\n`;
// glibc's own default, written down: /etc/hosts first, then DNS (Kubernetes mounts both files).
const NSSWITCH = 'hosts: files dns\nnetworks: files\npasswd: files\ngroup: files\n';

async function baseLayer(inputs: string, arch: Arch, node: Buffer): Promise<Layer> {
  const root = join(inputs, arch, 'root');
  if (!existsSync(root)) {
    throw new Error(`no Debian runtime for ${arch} in ${root}: run FLOTILLA_ENV_ONLY=image npm run env:setup`);
  }
  const files = new Map<string, { data: Uint8Array; mode: number }>();
  for (const [path, data] of await runtimeLibraries(root, arch, node)) files.set(path, { data, mode: 0o755 });
  for (const pkg of (await readdir(join(root, 'usr/share/doc'))).sort()) {
    const copyright = join(root, 'usr/share/doc', pkg, 'copyright');
    if (existsSync(copyright)) files.set(`/usr/share/doc/${pkg}/copyright`, { data: await readFile(copyright), mode: 0o644 });
  }
  files.set('/etc/passwd', { data: Buffer.from(PASSWD), mode: 0o644 });
  files.set('/etc/group', { data: Buffer.from(GROUP), mode: 0o644 });
  files.set('/etc/nsswitch.conf', { data: Buffer.from(NSSWITCH), mode: 0o644 });
  return tarLayer('base', files, { '/tmp': 0o1777 });
}

async function nodeLayer(inputs: string, arch: Arch, node: Buffer): Promise<Layer> {
  const license = await readFile(join(inputs, arch, 'node', 'LICENSE'));
  return tarLayer(
    'node',
    new Map([
      [NODE_PATH, { data: node, mode: 0o755 }],
      ['/usr/local/share/doc/node/LICENSE', { data: license, mode: 0o644 }],
    ]),
  );
}

/** kustomize for `arch`: a static executable (nothing from the base layer), for that machine. */
async function kustomizeLayer(inputs: string, arch: Arch): Promise<Layer> {
  const dir = join(inputs, 'kustomize');
  const binaryPath = join(dir, arch, 'kustomize');
  if (!existsSync(binaryPath)) throw new Error(`no kustomize for ${arch} at ${binaryPath}: run FLOTILLA_ENV_ONLY=kustomize npm run env:setup`);
  const binary = await readFile(binaryPath);
  const elf = elfDependencies(binary, `kustomize (${arch})`);
  if (elf.machine !== MULTIARCH[arch].elfMachine) throw new Error(`kustomize for ${arch} is built for ELF machine ${elf.machine}, not ${MULTIARCH[arch].elfMachine}`);
  if (elf.interpreter || elf.needed.length > 0) throw new Error(`kustomize for ${arch} is not static (it needs ${elf.interpreter ?? elf.needed.join(', ')})`);
  return tarLayer(
    'kustomize',
    new Map([
      [KUSTOMIZE_PATH, { data: binary, mode: 0o755 }],
      ['/usr/local/share/doc/kustomize/LICENSE', { data: await readFile(join(dir, 'LICENSE')), mode: 0o644 }],
    ]),
  );
}

async function agentLayer(bundleDir: string): Promise<Layer> {
  const files = new Map<string, { data: Uint8Array; mode: number }>();
  for (const name of BUNDLE_FILES) {
    const path = join(bundleDir, name);
    if (!existsSync(path)) throw new Error(`the bundle has no ${name} in ${bundleDir}: run npm run build`);
    files.set(`${APP_DIR}/${name}`, { data: await readFile(path), mode: 0o644 });
  }
  return tarLayer('agent', files);
}

// ---- Image ----------------------------------------------------------------------------------

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function labels(version: string, revision?: string): Record<string, string> {
  return {
    'org.opencontainers.image.source': AGENT_IMAGE_SOURCE,
    'org.opencontainers.image.title': 'flotilla-agent',
    'org.opencontainers.image.description': 'The Flotilla pull agent for Kubernetes clusters',
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.licenses': 'Apache-2.0',
    ...(revision ? { 'org.opencontainers.image.revision': revision } : {}),
  };
}

export async function buildImage(options: ImageOptions): Promise<BuiltImage> {
  const inputs = options.inputsDir ?? defaultInputsDir();
  const arches = options.arches ?? ARCHES;
  const version = options.version ?? AGENT_VERSION;
  const epoch = options.sourceDateEpoch ?? Number(process.env['SOURCE_DATE_EPOCH'] ?? 0);
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new Error(`SOURCE_DATE_EPOCH must be a whole number of seconds, not ${epoch}`);
  const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
  const imageLabels = labels(version, options.revision);
  const blobs = new Map<string, Buffer>();
  const add = (mediaType: string, data: Buffer): Descriptor => {
    const digest = digestOf(data);
    blobs.set(digest, data);
    return { mediaType, digest, size: data.byteLength };
  };

  const agent = await agentLayer(options.bundleDir);
  const built = await Promise.all(
    arches.map(async (arch) => {
      const nodePath = join(inputs, arch, 'node', 'bin', 'node');
      if (!existsSync(nodePath)) throw new Error(`no Node for ${arch} at ${nodePath}: run FLOTILLA_ENV_ONLY=image npm run env:setup`);
      const node = await readFile(nodePath);
      const [base, runtime, kustomize] = await Promise.all([baseLayer(inputs, arch, node), nodeLayer(inputs, arch, node), kustomizeLayer(inputs, arch)]);
      return { arch, layers: [base, runtime, kustomize, agent] };
    }),
  );
  const platforms: PlatformImage[] = [];
  for (const { arch, layers } of built) {
    const layerDescriptors = layers.map((layer) => ({
      ...add(OCI_LAYER_TAR_GZIP_MEDIA_TYPE, layer.gzip),
      name: layer.name,
      uncompressedSize: layer.tar.byteLength,
    }));
    const config = add(
      OCI_CONFIG_MEDIA_TYPE,
      json({
        created,
        architecture: arch,
        os: 'linux',
        ...(arch === 'arm64' ? { variant: 'v8' } : {}),
        config: {
          User: `${AGENT_UID}:${AGENT_UID}`,
          ExposedPorts: { '8080/tcp': {} },
          Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production'],
          Entrypoint: ENTRYPOINT,
          WorkingDir: APP_DIR,
          Labels: imageLabels,
        },
        rootfs: { type: 'layers', diff_ids: layers.map((layer) => digestOf(layer.tar)) },
        history: layers.map((layer) => ({ created, created_by: `flotilla scripts/image.ts: ${layer.name} layer` })),
      }),
    );
    const manifest = add(
      OCI_MANIFEST_MEDIA_TYPE,
      json({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST_MEDIA_TYPE,
        config,
        layers: layerDescriptors.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
        annotations: { 'org.opencontainers.image.created': created, ...imageLabels },
      }),
    );
    platforms.push({
      arch,
      manifest,
      config,
      layers: layerDescriptors,
      compressedSize: config.size + layerDescriptors.reduce((sum, layer) => sum + layer.size, 0),
    });
  }
  const index = add(
    OCI_INDEX_MEDIA_TYPE,
    json({
      schemaVersion: 2,
      mediaType: OCI_INDEX_MEDIA_TYPE,
      manifests: platforms.map((platform) => ({
        ...platform.manifest,
        platform: { architecture: platform.arch, os: 'linux', ...(platform.arch === 'arm64' ? { variant: 'v8' } : {}) },
      })),
      annotations: { 'org.opencontainers.image.created': created, ...imageLabels },
    }),
  );
  return { index, platforms, blobs };
}

/** An OCI image layout (oci-layout, index.json, blobs/sha256/…) with the index tagged `tag`. */
export async function writeImageLayout(image: BuiltImage, dir: string, tag: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const [digest, data] of image.blobs) await writeFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), data);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX_MEDIA_TYPE,
      manifests: [{ ...image.index, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
}

/** Pushes layers and configs, then each platform's manifest by digest, then the index under the reference's tag. */
export async function pushImage(image: BuiltImage, reference: string, client: RegistryClient): Promise<string> {
  const ref = parseReference(reference);
  if (ref.digest) throw new Error(`push to a tag, not a digest: ${reference}`);
  const repository = { registry: ref.registry, name: ref.name };
  const blobDigests = new Set(image.platforms.flatMap((platform) => [platform.config.digest, ...platform.layers.map((layer) => layer.digest)]));
  for (const digest of blobDigests) await client.pushBlob(repository, image.blobs.get(digest)!);
  for (const platform of image.platforms) {
    await client.pushManifest(repository, platform.manifest.digest, image.blobs.get(platform.manifest.digest)!, OCI_MANIFEST_MEDIA_TYPE);
  }
  const tag = ref.tag ?? AGENT_VERSION;
  await client.pushManifest(repository, tag, image.blobs.get(image.index.digest)!, OCI_INDEX_MEDIA_TYPE);
  return `${formatRepository(repository)}:${tag}@${image.index.digest}`;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      output: { type: 'string' },
      push: { type: 'string' },
      platform: { type: 'string' },
      bundle: { type: 'string' },
      inputs: { type: 'string' },
      revision: { type: 'string' },
    },
    strict: true,
  });
  const arches = (values.platform ?? ARCHES.map((arch) => `linux/${arch}`).join(','))
    .split(',')
    .map((platform) => {
      const arch = platform.trim().replace(/^linux\//, '');
      if (!ARCHES.includes(arch as Arch)) throw new Error(`--platform takes linux/amd64 and linux/arm64, not ${platform}`);
      return arch as Arch;
    });
  let bundleDir = values.bundle ? resolve(values.bundle) : undefined;
  if (!bundleDir) {
    const built = await buildAgent();
    bundleDir = dirname(built.file);
  }
  const image = await buildImage({ bundleDir, inputsDir: values.inputs, arches, revision: values.revision });
  for (const platform of image.platforms) {
    const layers = platform.layers.map((layer) => `${layer.name} ${mib(layer.size)}`).join(', ');
    console.log(`linux/${platform.arch}  ${platform.manifest.digest}  ${mib(platform.compressedSize)} compressed (${layers})`);
  }
  console.log(`index  ${image.index.digest}`);
  if (values.output !== undefined || !values.push) {
    const output = resolve(values.output ?? join(ROOT, 'dist', 'image'));
    await writeImageLayout(image, output, AGENT_VERSION);
    console.log(`OCI layout  ${relative(process.cwd(), output) || '.'}`);
  }
  if (values.push) {
    const client = new RegistryClient({ credentials: await readDockerCredentials(), userAgent: 'flotilla-image' });
    console.log(`pushed  ${await pushImage(image, values.push, client)}`);
  }
}

// Run as a script (not imported by a test or bench); import.meta.main is Node ≥ 22.18 only.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await main();
  } catch (error) {
    console.error(`image: ${(error as Error).message.split('\n')[0]}`);
    process.exitCode = 1;
  }
}
