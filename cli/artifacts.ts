// publish and diff: build the Flux-format artifact of a directory, push it, compare with a release.
import { stat } from 'node:fs/promises';
import { buildArtifact, pullArtifact, pushArtifact, type PushProgress } from '../lib/oci/artifact.ts';
import { RegistryClient } from '../lib/oci/client.ts';
import { OciError } from '../lib/oci/errors.ts';
import { extractTarGz } from '../lib/oci/untar.ts';
import { normalizeVersion } from '../lib/semver.ts';
import type { Release } from '../lib/api/schemas.ts';
import type { ApiClient } from './api.ts';
import type { CliConfig } from './config.ts';
import { CliError } from './errors.ts';
import { lineDiff } from './text-diff.ts';

export interface PublishOptions {
  dir: string;
  app: string;
  version: string;
  source?: string;
  revision?: string;
  onProgress?: (line: string) => void;
}

async function requireDirectory(dir: string) {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new CliError(`${dir} is not a directory`, 2);
}

function requireVersion(input: string): string {
  const version = normalizeVersion(input);
  if (!version) throw new CliError(`"${input}" is not a semantic version such as 1.2.3`, 2);
  return version;
}

const ociFailure = (err: unknown, what: string) =>
  err instanceof OciError ? new CliError(`${what}: ${err.message}`, err.code === 'unauthorized' ? 3 : err.code === 'not-found' ? 4 : 1) : err;

/**
 * Builds and pushes `<repository>:v<version>`, then registers the release. Re-running is idempotent:
 * an existing release's creation time is reused so the same directory rebuilds to the same digest.
 */
export async function publish(api: ApiClient, config: CliConfig, options: PublishOptions): Promise<PublishedRelease> {
  await requireDirectory(options.dir);
  const version = requireVersion(options.version);
  const app = await api.getApp(options.app);
  const existing = await api.findRelease(options.app, version);
  // A re-run rebuilds with the release's own metadata, so the same content gives the same digest.
  const meta = {
    source: options.source ?? existing?.source ?? `file://${options.dir}`,
    revision: options.revision ?? existing?.revision ?? version,
    created: existing?.created ?? new Date().toISOString(),
  };
  if (existing) {
    const rebuilt = await buildArtifact(options.dir, meta);
    if (rebuilt.digest !== existing.digest) {
      throw new CliError(
        `${options.app}@${version} is already published with digest ${existing.digest}, and this directory builds ${rebuilt.digest}; releases are immutable, publish a new version`,
        5,
      );
    }
  }
  const client = new RegistryClient({ credentials: config.registryCredentials });
  const tag = `v${version}`;
  let pushed;
  try {
    pushed = await pushArtifact(client, `${app.repository}:${tag}`, options.dir, meta, {
      onProgress: (progress: PushProgress) =>
        options.onProgress?.(`pushing ${progress.step} ${progress.bytesSent}/${progress.totalBytes} bytes`),
    });
  } catch (err) {
    throw ociFailure(err, `push to ${app.repository}:${tag} failed`);
  }
  const release = await api.registerRelease(options.app, {
    version,
    digest: pushed.digest,
    tag,
    source: meta.source,
    revision: meta.revision,
    created: new Date(meta.created).toISOString(),
  });
  return { ...release, repository: app.repository, alreadyPublished: existing !== null };
}

/** A registered release, where it was pushed, and whether this run found it already there. */
export type PublishedRelease = Release & { repository: string; alreadyPublished: boolean };

export interface ReleaseDiff {
  app: string;
  version: string;
  digest: string;
  changes: FileChange[];
}

export interface FileChange {
  path: string;
  change: 'added' | 'removed' | 'modified';
  patch?: string;
}

/** What the directory would change compared with a published release, file by file. */
export async function diff(api: ApiClient, config: CliConfig, options: { dir: string; app: string; version: string }): Promise<ReleaseDiff> {
  await requireDirectory(options.dir);
  const version = requireVersion(options.version);
  const app = await api.getApp(options.app);
  const release = await api.getRelease(options.app, version);
  const client = new RegistryClient({ credentials: config.registryCredentials });
  let published;
  try {
    published = await pullArtifact(client, app.repository, release.digest);
  } catch (err) {
    throw ociFailure(err, `pull of ${app.repository}@${release.digest} failed`);
  }
  const local = await buildArtifact(options.dir, { source: '', revision: '', created: release.created });
  const localFiles = await extractTarGz(local.layer);
  const changes: FileChange[] = [];
  for (const path of [...new Set([...published.files.keys(), ...localFiles.keys()])].sort()) {
    const before = published.files.get(path);
    const after = localFiles.get(path);
    if (before && after && before.equals(after)) continue;
    const change = !before ? 'added' : !after ? 'removed' : 'modified';
    changes.push({
      path,
      change,
      patch: lineDiff(before?.toString('utf8') ?? '', after?.toString('utf8') ?? ''),
    });
  }
  return { app: options.app, version, digest: release.digest, changes };
}
