// lib/oci's client against the real registries of the test environment: auth, verification,
// pagination, chunked uploads and the errors callers branch on.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullArtifact, pushArtifact } from '../../lib/oci/artifact.ts';
import { RegistryClient } from '../../lib/oci/client.ts';
import { digestOf } from '../../lib/oci/digest.ts';
import { DigestMismatchError, NotFoundError, UnauthorizedError } from '../../lib/oci/errors.ts';
import { OCI_MANIFEST_MEDIA_TYPE, parseImageManifest } from '../../lib/oci/manifest.ts';
import type { TestRegistry } from '../env/types.ts';
import { requireTestEnv } from '../env/inject.ts';
import { comparable, removeDirs, sampleFiles, scratchDir, uniqueRepositoryName, writeTree } from './helpers.ts';

const env = requireTestEnv();
const anonymous = env.registries.anonymous;
const meta = { source: 'https://git.example.com/team/app.git', revision: 'main@sha1:fedcba9876543210fedcba9876543210fedcba98' };

let sourceDir: string;
const dirs: string[] = [];
beforeAll(async () => {
  sourceDir = await scratchDir('registry-source');
  dirs.push(sourceDir);
  await writeTree(sourceDir, sampleFiles);
});
afterAll(() => removeDirs(dirs));

function credentialsOf(registry: TestRegistry) {
  return { username: registry.username ?? '', password: registry.password ?? '' };
}

describe.each([
  ['basic', env.registries.basic],
  ['token', env.registries.token],
] as const)('a registry with %s auth', (_kind, registry) => {
  it.runIf(registry)('pushes and pulls with the right credentials', async () => {
    if (!registry) return;
    const client = new RegistryClient({ credentials: credentialsOf(registry) });
    const repository = `${registry.host}/${uniqueRepositoryName('auth')}`;
    const pushed = await pushArtifact(client, `${repository}:v1.0.0`, sourceDir, meta);
    const pulled = await pullArtifact(client, repository, pushed.digest);
    expect(comparable(pulled.files)).toEqual(comparable(sampleFiles));
    expect(await client.listTags({ registry: registry.host, name: repository.slice(registry.host.length + 1) })).toEqual(['v1.0.0']);
  });

  it.runIf(registry)('refuses a wrong password, and no credentials, with UnauthorizedError', async () => {
    if (!registry) return;
    const repository = `${registry.host}/${uniqueRepositoryName('auth-refused')}`;
    const wrongPassword = new RegistryClient({ credentials: { username: registry.username ?? '', password: 'not-the-password' } });
    const pushError = await pushArtifact(wrongPassword, `${repository}:v1`, sourceDir, meta).catch((error: unknown) => error);
    expect(pushError).toBeInstanceOf(UnauthorizedError);
    expect(pushError).toMatchObject({ code: 'unauthorized' });

    const pushed = await pushArtifact(new RegistryClient({ credentials: credentialsOf(registry) }), `${repository}:v1`, sourceDir, meta);
    await expect(pullArtifact(wrongPassword, repository, pushed.digest)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(pullArtifact(new RegistryClient(), repository, pushed.digest)).rejects.toBeInstanceOf(UnauthorizedError);
  });
});

describe('verification', () => {
  const client = new RegistryClient();

  it('refuses a manifest whose layer descriptor does not match the stored layer', async () => {
    const name = uniqueRepositoryName('mismatch');
    const target = { registry: anonymous.host, name };
    const pushed = await pushArtifact(client, `${anonymous.host}/${name}:v1`, sourceDir, meta);
    const manifest = parseImageManifest((await client.getManifest(target, pushed.digest)).bytes);
    const [layer] = manifest.layers;
    if (!layer) throw new Error('pushed artifact has no layer');
    // The registry stores what it is given: a manifest that lies about its layer's size.
    const lying = Buffer.from(JSON.stringify({ ...manifest, layers: [{ ...layer, size: layer.size + 1 }] }));
    const lyingDigest = await client.pushManifest(target, 'lying', lying, OCI_MANIFEST_MEDIA_TYPE);
    const error = await pullArtifact(client, target, lyingDigest).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect(error).toMatchObject({ code: 'digest-mismatch' });
  });

  describe('through a proxy that corrupts blobs in flight', () => {
    let proxy: Server;
    let proxyHost: string;

    beforeAll(async () => {
      proxy = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', async () => {
          const headers: Record<string, string> = {};
          for (const name of ['accept', 'content-type', 'authorization']) {
            const value = request.headers[name];
            if (typeof value === 'string') headers[name] = value;
          }
          const body = Buffer.concat(chunks);
          const upstream = await fetch(`${anonymous.url}${request.url}`, {
            method: request.method,
            headers,
            body: body.length > 0 ? body : undefined,
          });
          const data = Buffer.from(await upstream.arrayBuffer());
          if (request.method === 'GET' && request.url?.includes('/blobs/sha256:') && data.length > 0) {
            data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 0xff; // same size, different bytes
          }
          const passed: Record<string, string> = { 'Content-Length': String(data.length) };
          for (const name of ['content-type', 'docker-content-digest', 'location']) {
            const value = upstream.headers.get(name);
            if (value) passed[name] = value;
          }
          response.writeHead(upstream.status, passed);
          response.end(data);
        });
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      proxyHost = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise((resolve) => proxy.close(resolve)));

    it('refuses a layer whose bytes do not hash to its digest, before unpacking it', async () => {
      const name = uniqueRepositoryName('tampered');
      const pushed = await pushArtifact(client, `${anonymous.host}/${name}:v1`, sourceDir, meta);
      // Manifests pass untouched, so the corruption is caught by the layer's digest.
      const error = await pullArtifact(client, `${proxyHost}/${name}`, pushed.digest).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(DigestMismatchError);
      expect((error as Error).message).toContain(parseImageManifest((await client.getManifest({ registry: anonymous.host, name }, pushed.digest)).bytes).layers[0]?.digest);
    });
  });
});

describe('tags, blobs and errors', () => {
  const client = new RegistryClient();

  it('lists every tag through the registry pagination (n=3)', async () => {
    const name = uniqueRepositoryName('tags');
    const target = { registry: anonymous.host, name };
    const pushed = await pushArtifact(client, `${anonymous.host}/${name}:v1.0.0`, sourceDir, meta);
    const manifest = (await client.getManifest(target, pushed.digest)).bytes;
    const tags = ['v1.0.0', 'v1.0.1', 'v1.1.0', 'v1.2.0', 'v2.0.0', 'v2.0.1', 'v3.0.0'];
    for (const tag of tags.slice(1)) await client.pushManifest(target, tag, manifest, OCI_MANIFEST_MEDIA_TYPE);

    // distribution 3 pages the list itself (3 tags and a Link to the rest); Debian's 2.8, the
    // setup's fallback, ignores n and answers all tags at once, which listTags must take too.
    const firstPage = await fetch(`${anonymous.url}/v2/${name}/tags/list?n=3`);
    const firstPageTags = ((await firstPage.json()) as { tags: string[] }).tags;
    if (firstPageTags.length < tags.length) {
      expect(firstPageTags).toHaveLength(3);
      expect(firstPage.headers.get('link')).toContain('rel="next"');
    }

    expect((await client.listTags(target, { pageSize: 3 })).sort()).toEqual(tags);
    expect((await client.listTags(target)).sort()).toEqual(tags);
  });

  it('uploads a big blob in PATCH chunks, verifies it back, and skips it once it exists', async () => {
    const chunked = new RegistryClient({ monolithicUploadMaxBytes: 1024, uploadChunkBytes: 16 * 1024 });
    const target = { registry: anonymous.host, name: uniqueRepositoryName('chunked') };
    const blob = randomBytes(100_000);
    const progress: number[] = [];
    const first = await chunked.pushBlob(target, blob, { onProgress: (sent) => progress.push(sent) });
    expect(first).toEqual({ digest: digestOf(blob), size: blob.length, uploaded: true });
    expect(progress).toEqual([16384, 32768, 49152, 65536, 81920, 98304, 100_000]);
    expect((await client.getBlob(target, { digest: first.digest, size: blob.length }, { maxBytes: blob.length })).equals(blob)).toBe(true);
    expect((await chunked.pushBlob(target, blob)).uploaded).toBe(false);
  });

  it('answers NotFoundError for an unknown tag, digest and repository', async () => {
    const name = uniqueRepositoryName('missing');
    const pushed = await pushArtifact(client, `${anonymous.host}/${name}:v1`, sourceDir, meta);
    const target = { registry: anonymous.host, name };
    await expect(client.resolveTag(target, 'v9.9.9')).rejects.toBeInstanceOf(NotFoundError);
    await expect(pullArtifact(client, target, digestOf(Buffer.from('no such manifest')))).rejects.toBeInstanceOf(NotFoundError);
    await expect(pullArtifact(client, `${anonymous.host}/${uniqueRepositoryName('never-pushed')}`, pushed.digest)).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});
