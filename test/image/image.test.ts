// The agent image (scripts/image.ts): built by `npm run image` from the bundle, pushed to a real
// registry and read back through the registry API; its layers hold only what the agent needs,
// building again gives the same digest, and the amd64 root filesystem runs the agent on its own
// (its node, its C runtime) both through its own dynamic loader and, where crun can start a
// container here, as a container talking to a test cluster's apiserver like a Pod would.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AGENT_IMAGE_REPOSITORY, AGENT_UID, AGENT_VERSION, DEFAULT_AGENT_IMAGE, installObjects } from '../../agent/install.ts';
import { RegistryClient } from '../../lib/oci/client.ts';
import { OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, type Descriptor } from '../../lib/oci/manifest.ts';
import { buildAgent } from '../../scripts/build.ts';
import { AGENT_NODE_FLAGS, ARCHES, BUNDLE_FILES, ENTRYPOINT, KUSTOMIZE_PATH, buildImage, defaultInputsDir, elfDependencies } from '../../scripts/image.ts';
import { requireTestEnv } from '../env/inject.ts';
import { connectTestCluster, createNamespace, deleteNamespace, uniqueName, type AgentTestCluster } from '../support/cluster.ts';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const env = requireTestEnv();
const registry = env.registries.anonymous;
const MAX_PLATFORM_BYTES = 80 * 1024 * 1024;
const BUILD_MS = 300_000;
/** The kustomize test/env/setup pins, which the image ships. */
const KUSTOMIZE_VERSION = /^KUSTOMIZE_VERSION=(v\S+)/m.exec(await readFile(join(ROOT, 'test/env/setup'), 'utf8'))?.[1];

const work = await mkdtemp(join(tmpdir(), 'flotilla-image-'));
afterAll(() => rm(work, { recursive: true, force: true }));

const bundleDir = join(work, 'bundle');
const layoutDir = join(work, 'layout');
const repository = { registry: registry.host, name: `flotilla/${uniqueName('agent-image')}` };
const client = new RegistryClient({ plainHttp: true });

interface ImageConfig {
  architecture: string;
  os: string;
  config: {
    User: string;
    Entrypoint: string[];
    Cmd?: string[];
    WorkingDir: string;
    Env: string[];
    ExposedPorts: Record<string, object>;
    Labels: Record<string, string>;
  };
  rootfs: { type: string; diff_ids: string[] };
}
interface Pulled {
  arch: string;
  manifest: { mediaType: string; config: Descriptor; layers: Descriptor[] };
  config: ImageConfig;
  /** Each layer's gzip, saved to a file. */
  layerFiles: string[];
}

let printed: string;
let indexDigest: string;
let index: { mediaType: string; manifests: (Descriptor & { platform: { architecture: string; os: string } })[] };
const pulled: Pulled[] = [];

beforeAll(async () => {
  await buildAgent(bundleDir);
  // The real command, as `npm run image` runs it: push and write the layout in one go.
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', 'scripts/image.ts', '--bundle', bundleDir, '--output', layoutDir, '--push', `${repository.registry}/${repository.name}:test`],
    { cwd: ROOT, env: { ...process.env, DOCKER_CONFIG: work }, timeout: BUILD_MS },
  );
  printed = stdout;
  const pushedAs = /^pushed {2}\S+:test@(sha256:[a-f0-9]{64})$/m.exec(stdout);
  expect(pushedAs, stdout).not.toBeNull();
  indexDigest = pushedAs![1]!;

  // Everything below comes back from the registry, not from the build's memory.
  const resolved = await client.resolveTag(repository, 'test');
  expect(resolved.digest).toBe(indexDigest);
  index = JSON.parse((await client.getManifest(repository, indexDigest)).bytes.toString('utf8'));
  for (const entry of index.manifests) {
    const manifest = JSON.parse((await client.getManifest(repository, entry.digest)).bytes.toString('utf8')) as Pulled['manifest'];
    const config = JSON.parse((await client.getBlob(repository, manifest.config, { maxBytes: 1024 * 1024 })).toString('utf8')) as ImageConfig;
    const layerFiles: string[] = [];
    for (const [i, layer] of manifest.layers.entries()) {
      const file = join(work, `${entry.platform.architecture}-layer${i}.tar.gz`);
      await writeFile(file, await client.getBlob(repository, layer, { maxBytes: MAX_PLATFORM_BYTES }));
      layerFiles.push(file);
    }
    pulled.push({ arch: entry.platform.architecture, manifest, config, layerFiles });
  }
}, BUILD_MS + 60_000);

/** `tar -tv` of a layer, read by GNU tar (an implementation other than the writer's). */
async function listLayer(file: string): Promise<{ mode: string; owner: string; path: string }[]> {
  const { stdout } = await execFileAsync('tar', ['--numeric-owner', '-tvzf', file], { maxBuffer: 16 * 1024 * 1024 });
  return stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [mode, owner, , , , ...rest] = line.split(/\s+/);
      return { mode: mode!, owner: owner!, path: rest.join(' ') };
    });
}

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function extractRootfs(arch: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const image = pulled.find((candidate) => candidate.arch === arch)!;
  for (const file of image.layerFiles) await execFileAsync('tar', ['--numeric-owner', '-xzf', file, '-C', dir]);
}

describe('the pushed image', () => {
  test('is an OCI index of a linux/amd64 and a linux/arm64 image', () => {
    expect(index.mediaType).toBe(OCI_INDEX_MEDIA_TYPE);
    expect(index.manifests.map((entry) => [entry.mediaType, entry.platform.os, entry.platform.architecture])).toEqual(
      ARCHES.map((arch) => [OCI_MANIFEST_MEDIA_TYPE, 'linux', arch]),
    );
    for (const image of pulled) expect([image.config.os, image.config.architecture]).toEqual(['linux', image.arch]);
  });

  test('runs node on the bundle as a non-root user, with the labels of this release', () => {
    for (const { config } of pulled) {
      expect(config.config.Entrypoint).toEqual(['/usr/local/bin/node', ...AGENT_NODE_FLAGS, '/app/flotilla-agent.mjs']);
      expect(config.config.Cmd).toBeUndefined();
      expect(config.config.User).toBe('65532:65532');
      expect(config.config.WorkingDir).toBe('/app');
      expect(config.config.Env).toContain('NODE_ENV=production');
      expect(Object.keys(config.config.ExposedPorts)).toEqual(['8080/tcp']);
      expect(config.config.Labels).toMatchObject({
        'org.opencontainers.image.source': 'https://github.com/flotilla-dev/flotilla',
        'org.opencontainers.image.version': AGENT_VERSION,
        'org.opencontainers.image.title': 'flotilla-agent',
      });
      expect(config.rootfs.diff_ids).toHaveLength(pulled[0]!.manifest.layers.length);
    }
  });

  test('holds node, its C runtime and the bundle, and no tests, TypeScript or node_modules', async () => {
    for (const image of pulled) {
      const entries = (await Promise.all(image.layerFiles.map(listLayer))).flat();
      const paths = entries.map((entry) => entry.path);
      expect(paths.filter((path) => /\.test\.|\.ts$|(^|\/)node_modules(\/|$)|(^|\/)test\//.test(path))).toEqual([]);
      expect(paths.filter((path) => path.startsWith('app/') && path !== 'app/').sort()).toEqual([...BUNDLE_FILES.map((name) => `app/${name}`), 'app/kustomize'].sort());
      const triplet = image.arch === 'amd64' ? 'x86_64-linux-gnu' : 'aarch64-linux-gnu';
      expect(paths).toEqual(
        expect.arrayContaining([
          'usr/local/bin/node',
          image.arch === 'amd64' ? 'lib64/ld-linux-x86-64.so.2' : 'lib/ld-linux-aarch64.so.1',
          `lib/${triplet}/libc.so.6`,
          `usr/lib/${triplet}/libstdc++.so.6`,
          'etc/passwd',
          'etc/group',
          'tmp/',
        ]),
      );
      // Everything belongs to root; the agent's user can write only /tmp (sticky, like any /tmp).
      expect(new Set(entries.map((entry) => entry.owner))).toEqual(new Set(['0/0']));
      expect(entries.find((entry) => entry.path === 'tmp/')?.mode).toBe('drwxrwxrwt');
      expect(entries.find((entry) => entry.path === 'usr/local/bin/node')?.mode).toBe('-rwxr-xr-x');
      expect(entries.find((entry) => entry.path === KUSTOMIZE_PATH.slice(1))?.mode).toBe('-rwxr-xr-x');
      expect(paths).toContain('usr/local/share/doc/kustomize/LICENSE');
    }
    const root = join(work, 'amd64-etc');
    await extractRootfs('amd64', root);
    expect(await readFile(join(root, 'etc/passwd'), 'utf8')).toMatch(new RegExp(`^nonroot:x:${AGENT_UID}:${AGENT_UID}:`, 'm'));
    expect(await readFile(join(root, 'etc/group'), 'utf8')).toMatch(new RegExp(`^nonroot:x:${AGENT_UID}:`, 'm'));
  });

  test("ships kustomize next to the bundle: static, for each platform's machine, in a layer of its own", async () => {
    expect(KUSTOMIZE_PATH).toBe('/app/kustomize');
    for (const image of pulled) {
      const layers = image.manifest.layers.length;
      expect(layers).toBe(4); // base, node, kustomize, agent
      const dir = join(work, `${image.arch}-kustomize`);
      await mkdir(dir, { recursive: true });
      await execFileAsync('tar', ['-xzf', image.layerFiles[2]!, '-C', dir]);
      const elf = elfDependencies(await readFile(join(dir, 'app/kustomize')));
      expect(elf.machine).toBe(image.arch === 'amd64' ? 62 : 183);
      expect([elf.interpreter, elf.needed]).toEqual([undefined, []]);
    }
  });

  test('stays small: under 80 MB compressed per platform', () => {
    for (const image of pulled) {
      const bytes = image.manifest.config.size + image.manifest.layers.reduce((sum, layer) => sum + layer.size, 0);
      console.log(`[image] linux/${image.arch}: ${(bytes / 1024 / 1024).toFixed(1)} MiB compressed (${image.manifest.layers.map((layer) => `${(layer.size / 1024 / 1024).toFixed(1)}`).join(' + ')} MiB layers)`);
      expect(bytes).toBeLessThan(MAX_PLATFORM_BYTES);
    }
    // The agent layer is one blob, shared by both platforms.
    expect(new Set(pulled.map((image) => image.manifest.layers.at(-1)!.digest)).size).toBe(1);
  });

  test('has a reproducible digest: the same inputs built again give the same index', async () => {
    const again = await buildImage({ bundleDir, inputsDir: defaultInputsDir() });
    expect(again.index.digest).toBe(indexDigest);
    expect(again.platforms.map((platform) => platform.manifest.digest)).toEqual(index.manifests.map((entry) => entry.digest));
    // The layout on disk names the same index.
    const layout = JSON.parse(await readFile(join(layoutDir, 'index.json'), 'utf8'));
    expect(layout.manifests[0].digest).toBe(indexDigest);
    expect(existsSync(join(layoutDir, 'blobs', 'sha256', indexDigest.slice('sha256:'.length)))).toBe(true);
    expect(printed).toContain(`index  ${indexDigest}`);
  }, BUILD_MS);
});

describe('the amd64 root filesystem', () => {
  const rootfs = join(work, 'amd64-rootfs');
  const loader = join(rootfs, 'lib64/ld-linux-x86-64.so.2');
  const libraryPath = [join(rootfs, 'lib/x86_64-linux-gnu'), join(rootfs, 'usr/lib/x86_64-linux-gnu')].join(':');
  // The image's own loader and libraries (never the host's: no ld.so.cache, an empty environment).
  const runImageNode = (args: string[]) =>
    execFileAsync(loader, ['--inhibit-cache', '--library-path', libraryPath, join(rootfs, 'usr/local/bin/node'), ...args], { env: {}, cwd: rootfs });

  beforeAll(() => extractRootfs('amd64', rootfs));

  test('resolves every library node needs from the image itself', async () => {
    const { stdout } = await execFileAsync(loader, ['--inhibit-cache', '--library-path', libraryPath, '--list', join(rootfs, 'usr/local/bin/node')], { env: {} });
    const resolved = [...stdout.matchAll(/=> (\S+)/g)].map((match) => match[1]!);
    expect(resolved.length).toBeGreaterThanOrEqual(6);
    for (const path of resolved) expect(path.startsWith(rootfs), `${path} is outside the image`).toBe(true);
  });

  test(`runs the image's kustomize (${KUSTOMIZE_VERSION}) with an empty environment`, async () => {
    const kustomize = join(rootfs, KUSTOMIZE_PATH);
    expect((await execFileAsync(kustomize, ['version'], { env: {} })).stdout.trim()).toBe(KUSTOMIZE_VERSION);
    const dir = join(work, 'kustomization');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'kustomization.yaml'), 'namePrefix: image-\nconfigMapGenerator: [{name: c, literals: [a=b]}]\n');
    const { stdout } = await execFileAsync(kustomize, ['build', '--load-restrictor', 'LoadRestrictionsRootOnly', '.'], { env: {}, cwd: dir });
    expect(stdout).toMatch(/^  name: image-c-[a-z0-9]{10}$/m);
  });

  test("runs the image's Node 24 and the bundle, which stops on missing settings in one line", async () => {
    expect((await runImageNode(['-p', 'process.version'])).stdout.trim()).toBe('v24.22.3');
    const failed = await runImageNode([join(rootfs, 'app/flotilla-agent.mjs')]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr.trim().split('\n')).toHaveLength(1);
    expect(failed?.stderr).toMatch(/^flotilla-agent: bad settings: .*FLOTILLA_CONTROL_PLANE_URL is required/);
  });
});

// A real OCI runtime: crun (Debian's) starts the image's entrypoint as its user with a read-only
// root, the service-account files mounted where the kubelet mounts them and the apiserver address
// in KUBERNETES_SERVICE_HOST/PORT, like a Pod. Host network (the apiserver listens on loopback).
// Where /sys/fs/cgroup is the cgroup v1/v2 hybrid, crun refuses to start ("cgroups in hybrid mode
// not supported, drop all controllers from cgroupv2"), so it runs in a mount namespace of its own
// with cgroup2 alone mounted there and --cgroup-manager=disabled: no resource limits, the rest real.
const crunPath = join(resolve(env.bin.kubectl, '..'), 'crun');
const canRunContainers = existsSync(crunPath) && process.getuid?.() === 0;
if (!canRunContainers) console.log(`[image] skipping the container test: it needs root and ${crunPath} (FLOTILLA_ENV_ONLY=crun npm run env:setup)`);

describe.skipIf(!canRunContainers)('the image as a container (crun)', () => {
  const bundle = join(work, 'crun-bundle');
  const containerId = uniqueName('flotilla-agent');
  const namespace = uniqueName('agent-image');
  let cluster: AgentTestCluster;
  let container: ReturnType<typeof spawn> | undefined;
  let output = '';
  let agentPort: number;

  const crunCommand = (args: string[]) => [
    '--mount',
    'sh',
    '-c',
    'if [ "$(stat -fc %T /sys/fs/cgroup)" = tmpfs ]; then umount -l /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup; fi; exec "$0" "$@"',
    crunPath,
    '--cgroup-manager=disabled',
    ...args,
  ];
  const crun = (args: string[]) => execFileAsync('unshare', crunCommand(args));

  beforeAll(async () => {
    cluster = await connectTestCluster('dev');
    await createNamespace(cluster, namespace);
    const testCluster = env.clusters.find((candidate) => candidate.name === 'dev')!;
    const serviceAccount = join(bundle, 'serviceaccount');
    await mkdir(serviceAccount, { recursive: true });
    await extractRootfs('amd64', join(bundle, 'rootfs'));
    await writeFile(join(serviceAccount, 'token'), testCluster.token, { mode: 0o644 });
    await writeFile(join(serviceAccount, 'ca.crt'), await readFile(testCluster.caFile!), { mode: 0o644 });
    await writeFile(join(serviceAccount, 'namespace'), namespace, { mode: 0o644 });
    agentPort = await freePort();
    const { config: image } = pulled.find((candidate) => candidate.arch === 'amd64')!.config;
    const apiserver = new URL(testCluster.server);
    await writeFile(
      join(bundle, 'config.json'),
      JSON.stringify({
        ociVersion: '1.0.2',
        process: {
          terminal: false,
          user: { uid: Number(image.User.split(':')[0]), gid: Number(image.User.split(':')[1]) },
          args: [...image.Entrypoint, ...(image.Cmd ?? [])],
          env: [
            ...image.Env,
            'FLOTILLA_CONTROL_PLANE_URL=http://127.0.0.1:9',
            'FLOTILLA_REGISTRATION_TOKEN=not-used-before-the-key-is-stored',
            `FLOTILLA_LISTEN_PORT=${agentPort}`,
            `KUBERNETES_SERVICE_HOST=${apiserver.hostname}`,
            `KUBERNETES_SERVICE_PORT=${apiserver.port}`,
          ],
          cwd: image.WorkingDir,
          capabilities: { bounding: [], effective: [], permitted: [], ambient: [] },
          noNewPrivileges: true,
        },
        root: { path: 'rootfs', readonly: true },
        hostname: 'flotilla-agent',
        mounts: [
          { destination: '/proc', type: 'proc', source: 'proc' },
          { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
          { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=65536k'] },
          { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
          { destination: '/var/run/secrets/kubernetes.io/serviceaccount', type: 'bind', source: serviceAccount, options: ['rbind', 'ro'] },
        ],
        linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] },
      }),
    );
    container = spawn('unshare', crunCommand(['run', '--bundle', bundle, containerId]), { stdio: ['ignore', 'pipe', 'pipe'] });
    container.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    container.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  }, 60_000);

  afterAll(async () => {
    await crun(['kill', containerId, 'KILL']).catch(() => undefined);
    await crun(['delete', '--force', containerId]).catch(() => undefined);
    container?.kill('SIGKILL');
    if (cluster) await deleteNamespace(cluster, namespace);
  });

  test("runs the entrypoint as 65532, which stores the agent's key in the cluster and serves /healthz and /metrics", async () => {
    const deadline = Date.now() + 30_000;
    let secret: unknown;
    while (Date.now() < deadline && !secret) {
      secret = await cluster.client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: 'flotilla-agent-identity' }).catch(() => undefined);
      if (!secret) await new Promise((done) => setTimeout(done, 250));
    }
    expect(secret, `no identity Secret after 30 s; container output:\n${output}`).toBeTruthy();
    // Registration goes to a control plane that is not there: the agent waits for it, and says so.
    expect(output).toMatch(/"msg":"agent starting".*"namespace":"[^"]+".*"apiserver":"https:\/\/127\.0\.0\.1:\d+\/"/);
    // It found the kustomize the image ships next to the bundle.
    expect(output).toMatch(/"msg":"agent starting".*"kustomize":"\/app\/kustomize"/);
    const metrics = await fetch(`http://127.0.0.1:${agentPort}/metrics`);
    // The ops server answers from inside the container (no loop has finished yet: no samples).
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const health = await fetch(`http://127.0.0.1:${agentPort}/healthz`);
    expect(health.headers.get('content-type')).toBe('application/json');
    expect([200, 503]).toContain(health.status);
    // The process is the image's node, as the image's user.
    const { stdout: state } = await crun(['state', containerId]);
    const pid = JSON.parse(state).pid as number;
    expect((await readFile(`/proc/${pid}/status`, 'utf8')).match(/^Uid:\s+(\d+)/m)?.[1]).toBe(String(AGENT_UID));
    expect(await readFile(`/proc/${pid}/cmdline`, 'utf8')).toBe([...ENTRYPOINT, ''].join('\0'));
  }, 60_000);
});

describe('the default image reference', () => {
  test('is this release of the image, in the install manifests and agent/deploy', async () => {
    expect(DEFAULT_AGENT_IMAGE).toBe(`${AGENT_IMAGE_REPOSITORY}:${AGENT_VERSION}`);
    expect(AGENT_IMAGE_REPOSITORY).toBe('ghcr.io/flotilla-dev/flotilla-agent');
    const deployment = installObjects({ controlPlaneUrl: 'https://flotilla.example.com' }).find((object) => object['kind'] === 'Deployment') as any;
    expect(deployment.spec.template.spec.containers[0].image).toBe(DEFAULT_AGENT_IMAGE);
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsUser: AGENT_UID, runAsGroup: AGENT_UID, runAsNonRoot: true });
    expect(await readFile(join(ROOT, 'agent/deploy/deployment.yaml'), 'utf8')).toContain(`image: ${DEFAULT_AGENT_IMAGE}\n`);
  });

  test('agent/Dockerfile builds the same entrypoint, user and port', async () => {
    const dockerfile = await readFile(join(ROOT, 'agent/Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(runtime)?.[1];
    expect(JSON.parse(entrypoint ?? 'null')).toEqual(ENTRYPOINT);
    expect(runtime).toMatch(new RegExp(`^USER ${AGENT_UID}:${AGENT_UID}$`, 'm'));
    expect(runtime).toMatch(/^EXPOSE 8080$/m);
    expect(runtime).toMatch(/^ENV NODE_ENV=production$/m);
    expect(runtime).toMatch(/^WORKDIR \/app$/m);
    expect(runtime).toMatch(/^COPY --from=build \/src\/dist\/agent\/ \/app\/$/m);
    expect(runtime).toMatch(/^COPY --from=kustomize \/out\/kustomize \/app\/kustomize$/m);
    expect(dockerfile).toContain(`sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}\n`);
  });
});
