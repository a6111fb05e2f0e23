// lib/oci against Flux's own OCI library (github.com/fluxcd/pkg/oci, through fluxhelper) and
// the real registry: what one pushes, the other pulls into identical files, and the artifact
// we build is Flux's byte for byte up to the gzip stream.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildArtifact, pullArtifact, pushArtifact } from '../../lib/oci/artifact.ts';
import { RegistryClient } from '../../lib/oci/client.ts';
import { parseImageManifest } from '../../lib/oci/manifest.ts';
import { parseReference } from '../../lib/oci/reference.ts';
import { requireTestEnv } from '../env/inject.ts';
import { comparable, fluxHelperPath, readTree, removeDirs, run, sampleFiles, scratchDir, uniqueRepositoryName, writeTree } from './helpers.ts';

const env = requireTestEnv();
const registry = env.registries.anonymous;
const meta = {
  source: 'https://git.example.com/team/app.git',
  revision: 'main@sha1:0123456789abcdef0123456789abcdef01234567',
  created: '2026-03-04T05:06:07Z',
};

describe("interop with Flux's OCI library", () => {
  let fluxhelper: string;
  let sourceDir: string;
  const dirs: string[] = [];
  const client = new RegistryClient();

  beforeAll(async () => {
    fluxhelper = await fluxHelperPath();
    sourceDir = await scratchDir('flux-source');
    dirs.push(sourceDir);
    await writeTree(sourceDir, sampleFiles);
  });
  afterAll(() => removeDirs(dirs));

  it("Flux's Pull unpacks what pushArtifact pushed into identical files", async () => {
    const repository = uniqueRepositoryName('to-flux');
    const pushed = await pushArtifact(client, `${registry.host}/${repository}:v1.0.0`, sourceDir, meta);
    for (const reference of [`${registry.host}/${repository}@${pushed.digest}`, `${registry.host}/${repository}:v1.0.0`]) {
      const out = await scratchDir('flux-pull');
      dirs.push(out);
      await run(fluxhelper, ['pull', reference, out]);
      expect(comparable(await readTree(out))).toEqual(comparable(sampleFiles));
    }
  });

  it("pullArtifact unpacks what Flux's Push pushed into identical files, with its annotations", async () => {
    const repository = uniqueRepositoryName('from-flux');
    const output = await run(fluxhelper, [
      'push',
      `-source=${meta.source}`,
      `-revision=${meta.revision}`,
      `-created=${meta.created}`,
      `${registry.host}/${repository}:v2.0.0`,
      sourceDir,
    ]);
    const { digest } = parseReference(output.trim());
    expect(digest).toBeDefined();
    const pulled = await pullArtifact(client, `${registry.host}/${repository}`, digest ?? '');
    expect(comparable(pulled.files)).toEqual(comparable(sampleFiles));
    expect(pulled.metadata).toEqual({ source: meta.source, revision: meta.revision, created: meta.created });
    expect((await client.resolveTag({ registry: registry.host, name: repository }, 'v2.0.0')).digest).toBe(digest);
  });

  it('builds the same tar, config and manifest as Flux (only the gzip encoding differs)', async () => {
    const fluxLayerPath = join(await scratchDir('flux-build'), 'layer.tgz');
    dirs.push(join(fluxLayerPath, '..'));
    await run(fluxhelper, ['build', sourceDir, fluxLayerPath]);
    const ours = await buildArtifact(sourceDir, meta);
    const fluxLayer = await readFile(fluxLayerPath);
    expect(gunzipSync(ours.layer).equals(gunzipSync(fluxLayer))).toBe(true);

    // Config and manifest: push with Flux, then compare its blobs with ours, byte for byte.
    const repository = uniqueRepositoryName('flux-bytes');
    const output = await run(fluxhelper, [
      'push',
      `-source=${meta.source}`,
      `-revision=${meta.revision}`,
      `-created=${meta.created}`,
      `${registry.host}/${repository}:v1`,
      sourceDir,
    ]);
    const { digest } = parseReference(output.trim());
    const target = { registry: registry.host, name: repository };
    const fluxManifest = await client.getManifest(target, digest ?? '');
    const parsed = parseImageManifest(fluxManifest.bytes);
    const fluxConfig = await client.getBlob(target, parsed.config, { maxBytes: 1024 });
    expect(fluxConfig.toString()).toBe(ours.config.toString());

    const [ourLayer] = parseImageManifest(ours.manifest).layers;
    const [theirLayer] = parsed.layers;
    const oursWithTheirLayer = ours.manifest
      .toString()
      .replace(`"size":${ourLayer?.size},"digest":"${ourLayer?.digest}"`, `"size":${theirLayer?.size},"digest":"${theirLayer?.digest}"`);
    expect(oursWithTheirLayer).toBe(fluxManifest.bytes.toString());
  });
});
