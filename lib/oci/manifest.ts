// OCI image manifest types and the media types Flux gives its artifacts.
import { InvalidManifestError } from './errors.ts';
import { isDigest } from './reference.ts';

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.list.v2+json';

/** What we send as Accept: OCI first; without an OCI type some registries answer 404 to an OCI manifest. */
export const MANIFEST_ACCEPT = [
  OCI_MANIFEST_MEDIA_TYPE,
  OCI_INDEX_MEDIA_TYPE,
  DOCKER_MANIFEST_MEDIA_TYPE,
  DOCKER_MANIFEST_LIST_MEDIA_TYPE,
].join(', ');

export const FLUX_CONFIG_MEDIA_TYPE = 'application/vnd.cncf.flux.config.v1+json';
export const FLUX_CONTENT_MEDIA_TYPE = 'application/vnd.cncf.flux.content.v1.tar+gzip';
/** The generic OCI layer type, which ORAS and other tools use for a tar.gz when not told otherwise. */
export const OCI_LAYER_TAR_GZIP_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

export const ANNOTATION_SOURCE = 'org.opencontainers.image.source';
export const ANNOTATION_REVISION = 'org.opencontainers.image.revision';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

function isDescriptor(value: unknown): value is Descriptor {
  const candidate = value as Partial<Descriptor> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.mediaType === 'string' &&
    typeof candidate.digest === 'string' &&
    isDigest(candidate.digest) &&
    typeof candidate.size === 'number' &&
    Number.isSafeInteger(candidate.size) &&
    candidate.size >= 0
  );
}

/**
 * Parses an image manifest (OCI, or Docker schema 2 which has the same shape).
 * `contentType` is the registry's Content-Type, used when the manifest does not
 * name its own media type (allowed by the OCI spec).
 */
export function parseImageManifest(bytes: Uint8Array, contentType?: string | null): ImageManifest {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new InvalidManifestError('manifest is not valid JSON');
  }
  const manifest = value as Partial<ImageManifest> | null;
  if (typeof manifest !== 'object' || manifest === null || manifest.schemaVersion !== 2) {
    throw new InvalidManifestError('manifest is not a schemaVersion 2 manifest');
  }
  const mediaType = manifest.mediaType ?? contentType?.split(';')[0]?.trim();
  if (mediaType !== OCI_MANIFEST_MEDIA_TYPE && mediaType !== DOCKER_MANIFEST_MEDIA_TYPE) {
    throw new InvalidManifestError(
      `expected an image manifest (${OCI_MANIFEST_MEDIA_TYPE}), got ${mediaType ?? 'no media type'}`,
    );
  }
  if (!isDescriptor(manifest.config)) throw new InvalidManifestError('manifest config is not a valid descriptor');
  if (!Array.isArray(manifest.layers) || !manifest.layers.every(isDescriptor)) {
    throw new InvalidManifestError('manifest layers are not valid descriptors');
  }
  return manifest as ImageManifest;
}
