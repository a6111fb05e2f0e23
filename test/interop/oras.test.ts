// lib/oci against the real ORAS CLI and the real registry, both ways, with Flux's media types.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullArtifact, pushArtifact } from '../../lib/oci/artifact.ts';
import { RegistryClient } from '../../lib/oci/client.ts';
import { FLUX_CONFIG_MEDIA_TYPE, FLUX_CONTENT_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE } from '../../lib/oci/manifest.ts';
import { requireTestEnv } from '../env/inject.ts';
import { comparable, readTree, removeDirs, run, sampleFiles, scratchDir, uniqueRepositoryName, writeTree } from './helpers.ts';

const env = requireTestEnv();
const registry = env.registries.anonymous;
const oras = env.bin.oras;
const meta = { source: 'https://git.example.com/team/app.git', revision: 'v1.0.0@sha1:89abcdef0123456789abcdef0123456789abcdef' };

interface OciLayoutManifest {
  mediaType: string;
  config: { mediaType: string; digest: string };
  layers: { mediaType: string; digest: string; size: number }[];
  annotations?: Record<string, string>;
}

describe('interop with ORAS', () => {
  let sourceDir: string;
  const dirs: string[] = [];
  const client = new RegistryClient();

  beforeAll(async () => {
    sourceDir = await scratchDir('oras-source');
    dirs.push(sourceDir);
    await writeTree(sourceDir, sampleFiles);
  });
  afterAll(() => removeDirs(dirs));

  it('ORAS pulls what pushArtifact pushed, and GNU tar unpacks its layer into identical files', async () => {
    const repository = `${registry.host}/${uniqueRepositoryName('to-oras')}`;
    const pushed = await pushArtifact(client, `${repository}:v1.0.0`, sourceDir, meta);

    const fetched = JSON.parse(await run(oras, ['manifest', 'fetch', '--plain-http', `${repository}:v1.0.0`])) as OciLayoutManifest;
    expect(fetched.mediaType).toBe(OCI_MANIFEST_MEDIA_TYPE);
    expect(fetched.config.mediaType).toBe(FLUX_CONFIG_MEDIA_TYPE);
    expect(fetched.layers.map((layer) => layer.mediaType)).toEqual([FLUX_CONTENT_MEDIA_TYPE]);
    expect(fetched.annotations).toMatchObject({
      'org.opencontainers.image.source': meta.source,
      'org.opencontainers.image.revision': meta.revision,
    });

    // `oras pull` saves only layers with an org.opencontainers.image.title, which Flux artifacts do
    // not have; `oras copy` to an OCI layout pulls (and verifies) every blob of the artifact.
    const layout = await scratchDir('oras-layout');
    dirs.push(layout);
    await run(oras, ['copy', '--from-plain-http', `${repository}@${pushed.digest}`, '--to-oci-layout', `${layout}:pulled`]);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests.map((manifest) => manifest.digest)).toEqual([pushed.digest]);
    const blobPath = (digest: string) => join(layout, 'blobs', ...digest.split(':'));
    const manifest = JSON.parse(await readFile(blobPath(pushed.digest), 'utf8')) as OciLayoutManifest;
    const [layer] = manifest.layers;
    expect(layer?.size).toBe(pushed.size);

    const unpacked = join(layout, 'unpacked');
    await mkdir(unpacked);
    await run('tar', ['-xzf', blobPath(layer?.digest ?? ''), '-C', unpacked]);
    expect(comparable(await readTree(unpacked))).toEqual(comparable(sampleFiles));
  });

  it.each(['gnu', 'pax'])(
    'pullArtifact unpacks into identical files what `oras push` pushed with Flux media types (GNU tar, %s format)',
    async (format) => {
      const work = await scratchDir('oras-push');
      dirs.push(work);
      await run('tar', [`--format=${format}`, '-czf', join(work, 'manifests.tar.gz'), '-C', sourceDir, '.']);
      await writeFile(join(work, 'config.json'), '{}');
      const repository = `${registry.host}/${uniqueRepositoryName(`from-oras-${format}`)}`;
      const reference = `${repository}:v1.0.0`;
      // Relative file names: ORAS refuses absolute ones (and records the name as the layer title).
      await run(
        oras,
        [
          'push',
          '--plain-http',
          reference,
          '--artifact-type',
          FLUX_CONFIG_MEDIA_TYPE,
          '--config',
          `config.json:${FLUX_CONFIG_MEDIA_TYPE}`,
          `manifests.tar.gz:${FLUX_CONTENT_MEDIA_TYPE}`,
        ],
        { cwd: work },
      );
      const digest = (await run(oras, ['resolve', '--plain-http', reference])).trim();
      const pulled = await pullArtifact(client, repository, digest);
      expect(comparable(pulled.files)).toEqual(comparable(sampleFiles));
      expect(pulled.manifest.layers[0]?.annotations?.['org.opencontainers.image.title']).toBe('manifests.tar.gz');
    },
  );
});
