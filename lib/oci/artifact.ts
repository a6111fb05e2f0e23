// The artifact format of Flux (`flux push artifact`, fluxcd/pkg/oci): an OCI
// image manifest whose config is Flux's minimal image config and whose single
// layer is a reproducible tar.gz of a directory, annotated with source,
// revision and creation time. Built byte-for-byte like Flux's except for the
// gzip stream (Go's deflate and zlib differ), so the config blob and the
// manifest layout are identical and any Flux or ORAS tool reads ours.
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { RegistryClient } from './client.ts';
import { DEFAULT_MAX_MANIFEST_BYTES } from './client.ts';
import { digestOf } from './digest.ts';
import { InvalidManifestError, InvalidReferenceError, TooLargeError } from './errors.ts';
import { compileIgnore, DEFAULT_IGNORE } from './ignore.ts';
import {
  ANNOTATION_CREATED,
  ANNOTATION_REVISION,
  ANNOTATION_SOURCE,
  FLUX_CONFIG_MEDIA_TYPE,
  FLUX_CONTENT_MEDIA_TYPE,
  OCI_LAYER_TAR_GZIP_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  parseImageManifest,
  type Descriptor,
  type ImageManifest,
} from './manifest.ts';
import { parseReference, parseRepository, type Reference, type Repository } from './reference.ts';
import { tarEnd, tarEntryBlocks, type TarEntry } from './tar.ts';
import { DEFAULT_EXTRACTION_LIMITS, extractTarGz, type ExtractionLimits } from './untar.ts';

export interface ArtifactMetadata {
  /** Where the manifests come from, e.g. the Git repository URL. */
  source: string;
  /** Revision of the source, e.g. `main@sha1:<commit>`. */
  revision: string;
  /** Creation time (RFC 3339 or a Date); now when omitted. Pin it to get the same manifest digest twice. */
  created?: string | Date;
  /** .gitignore-style patterns to leave out, in addition to DEFAULT_IGNORE. */
  ignore?: readonly string[];
}

export interface BuiltArtifact {
  /** The gzipped tar of the directory. */
  layer: Buffer;
  config: Buffer;
  manifest: Buffer;
  /** Digest of the manifest: what a release pins. */
  digest: string;
  /** Paths left out because they are neither files nor directories (symlinks, sockets…), as Flux does; worth a warning. */
  skipped: string[];
}

export interface PushProgress {
  step: 'config' | 'layer' | 'manifest';
  bytesSent: number;
  totalBytes: number;
}

export interface PushedArtifact {
  /** Digest of the manifest. */
  digest: string;
  tag: string;
  /** Bytes of the compressed content layer. */
  size: number;
}

export interface PullLimits extends ExtractionLimits {
  maxManifestBytes: number;
  /** Bytes of the compressed content layer. */
  maxLayerBytes: number;
}

export const DEFAULT_PULL_LIMITS: PullLimits = {
  ...DEFAULT_EXTRACTION_LIMITS,
  maxManifestBytes: DEFAULT_MAX_MANIFEST_BYTES,
  maxLayerBytes: 64 * 1024 * 1024,
};

export interface PulledArtifact {
  digest: string;
  manifest: ImageManifest;
  /** The source, revision and created annotations ('' when absent). */
  metadata: { source: string; revision: string; created: string };
  /** Every regular file of the content layer, by slash-separated relative path. */
  files: Map<string, Buffer>;
}

const DIRECTORY_MODE = 0o755;
const FILE_MODE = 0o644;
const EXECUTABLE_MODE = 0o755;

/** RFC 3339 in UTC to the second, the form Flux writes (`time.RFC3339`). */
function formatCreated(created: string | Date | undefined): string {
  const date = created === undefined ? new Date() : typeof created === 'string' ? new Date(created) : created;
  const isRfc3339 = typeof created !== 'string' || /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(created);
  if (!isRfc3339 || Number.isNaN(date.getTime())) {
    throw new RangeError(`created must be an RFC 3339 timestamp, got ${String(created)}`);
  }
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** JSON as Go's encoding/json writes it (HTML-safe escapes), so our blobs hash like Flux's. */
function goJson(value: unknown): Buffer {
  const text = JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  return Buffer.from(text, 'utf8');
}

/** The config blob Flux writes: go-containerregistry's empty image config with only `created` set. */
function fluxConfig(created: string): Buffer {
  return goJson({ architecture: '', created, os: '', rootfs: { type: 'layers', diff_ids: null }, config: {} });
}

/** Names in os.ReadDir order (bytewise), which is the order Go's filepath.WalkDir and so Flux archive in. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The tar entries of a directory: the root as `.`, then depth-first in
 * bytewise name order, directories without a trailing slash (Flux's layout).
 * Modes are normalised (0755 directories and executables, 0644 other files) so
 * the digest does not depend on umask or checkout.
 */
async function* directoryEntries(
  root: string,
  isIgnored: (path: string, isDirectory: boolean) => boolean,
  skipped: string[],
): AsyncGenerator<TarEntry> {
  yield { type: 'directory', path: '.', mode: DIRECTORY_MODE };
  async function* walk(absolute: string, relative: string): AsyncGenerator<TarEntry> {
    const names = (await readdir(absolute)).sort(byteOrder);
    for (const name of names) {
      const path = relative ? `${relative}/${name}` : name;
      const target = join(absolute, name);
      const info = await lstat(target);
      if (!info.isFile() && !info.isDirectory()) {
        if (!isIgnored(path, false)) skipped.push(path);
        continue;
      }
      if (isIgnored(path, info.isDirectory())) continue;
      if (info.isDirectory()) {
        yield { type: 'directory', path, mode: DIRECTORY_MODE };
        yield* walk(target, path);
      } else {
        const mode = (info.mode & 0o100) !== 0 ? EXECUTABLE_MODE : FILE_MODE;
        yield { type: 'file', path, mode, data: await readFile(target) };
      }
    }
  }
  yield* walk(root, '');
}

/** Builds the artifact for a directory, in memory. */
export async function buildArtifact(dir: string, meta: ArtifactMetadata): Promise<BuiltArtifact> {
  const rootInfo = await stat(dir).catch(() => undefined);
  if (!rootInfo?.isDirectory()) throw new Error(`artifact source ${dir} is not a directory`);
  const isIgnored = compileIgnore([...DEFAULT_IGNORE, ...(meta.ignore ?? [])]);
  const skipped: string[] = [];

  async function* tarStream(): AsyncGenerator<Buffer> {
    for await (const entry of directoryEntries(dir, isIgnored, skipped)) yield* tarEntryBlocks(entry);
    yield tarEnd();
  }
  const compressed: Buffer[] = [];
  await pipeline(Readable.from(tarStream()), createGzip(), async (gzipped: AsyncIterable<Buffer>) => {
    for await (const chunk of gzipped) compressed.push(chunk);
  });
  const layer = Buffer.concat(compressed);

  const created = formatCreated(meta.created);
  const config = fluxConfig(created);
  // Field order and the sorted annotation keys are those of go-containerregistry's manifest.
  const manifest = goJson({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { mediaType: FLUX_CONFIG_MEDIA_TYPE, size: config.byteLength, digest: digestOf(config) },
    layers: [{ mediaType: FLUX_CONTENT_MEDIA_TYPE, size: layer.byteLength, digest: digestOf(layer) }],
    annotations: {
      [ANNOTATION_CREATED]: created,
      [ANNOTATION_REVISION]: meta.revision,
      [ANNOTATION_SOURCE]: meta.source,
    },
  });
  return { layer, config, manifest, digest: digestOf(manifest), skipped };
}

/** Builds the artifact of `dir` and pushes it as `ref` (which must name a tag): config, layer, then the manifest. */
export async function pushArtifact(
  client: RegistryClient,
  ref: string | Reference,
  dir: string,
  meta: ArtifactMetadata,
  options: { onProgress?: (progress: PushProgress) => void; signal?: AbortSignal } = {},
): Promise<PushedArtifact> {
  const reference = typeof ref === 'string' ? parseReference(ref) : ref;
  const { tag } = reference;
  if (!tag) throw new InvalidReferenceError(`push needs a tag: ${typeof ref === 'string' ? ref : reference.name}`);
  const artifact = await buildArtifact(dir, meta);
  const { onProgress, signal } = options;
  await client.pushBlob(reference, artifact.config, {
    signal,
    onProgress: (bytesSent, totalBytes) => onProgress?.({ step: 'config', bytesSent, totalBytes }),
  });
  await client.pushBlob(reference, artifact.layer, {
    signal,
    onProgress: (bytesSent, totalBytes) => onProgress?.({ step: 'layer', bytesSent, totalBytes }),
  });
  const digest = await client.pushManifest(reference, tag, artifact.manifest, OCI_MANIFEST_MEDIA_TYPE, { signal });
  onProgress?.({ step: 'manifest', bytesSent: artifact.manifest.byteLength, totalBytes: artifact.manifest.byteLength });
  return { digest, tag, size: artifact.layer.byteLength };
}

/**
 * The layer that holds the manifests: Flux's content type, or else the only
 * layer when it is a plain OCI tar+gzip (what ORAS pushes by default).
 */
function contentLayer(manifest: ImageManifest): Descriptor {
  const fluxLayers = manifest.layers.filter((layer) => layer.mediaType === FLUX_CONTENT_MEDIA_TYPE);
  if (fluxLayers.length > 1) throw new InvalidManifestError(`artifact has ${fluxLayers.length} ${FLUX_CONTENT_MEDIA_TYPE} layers`);
  const [onlyLayer] = manifest.layers;
  const layer =
    fluxLayers[0] ??
    (manifest.layers.length === 1 && onlyLayer?.mediaType === OCI_LAYER_TAR_GZIP_MEDIA_TYPE ? onlyLayer : undefined);
  if (!layer) {
    const found = manifest.layers.map((candidate) => candidate.mediaType).join(', ') || 'no layers';
    throw new InvalidManifestError(`artifact has no ${FLUX_CONTENT_MEDIA_TYPE} layer (found ${found})`);
  }
  return layer;
}

/**
 * Pulls the artifact with this manifest digest and unpacks its content layer
 * in memory. The manifest is fetched by digest and checked against it, the
 * layer's size and digest are checked before a byte of it is parsed, and
 * the archive is extracted under `limits`.
 */
export async function pullArtifact(
  client: RegistryClient,
  repository: string | Repository,
  digest: string,
  limits: Partial<PullLimits> = {},
  options: { signal?: AbortSignal } = {},
): Promise<PulledArtifact> {
  const effective: PullLimits = { ...DEFAULT_PULL_LIMITS, ...limits };
  const target = typeof repository === 'string' ? parseRepository(repository) : repository;
  const { signal } = options;
  const response = await client.getManifest(target, digest, { maxBytes: effective.maxManifestBytes, signal });
  const manifest = parseImageManifest(response.bytes, response.contentType);
  const layer = contentLayer(manifest);
  if (layer.size > effective.maxLayerBytes) {
    throw new TooLargeError(`content layer ${layer.digest} (${layer.size} bytes)`, effective.maxLayerBytes);
  }
  // Download and verify first, parse second: the archive parser only ever sees the bytes the digest pins.
  const layerBytes = await client.getBlob(target, layer, { maxBytes: effective.maxLayerBytes, signal });
  const files = await extractTarGz(layerBytes, effective);
  const annotations = manifest.annotations ?? {};
  return {
    digest,
    manifest,
    metadata: {
      source: annotations[ANNOTATION_SOURCE] ?? '',
      revision: annotations[ANNOTATION_REVISION] ?? '',
      created: annotations[ANNOTATION_CREATED] ?? '',
    },
    files,
  };
}
