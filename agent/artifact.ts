// Fetch and build: the pinned artifact's files (pulled by digest and unpacked by lib/oci), cached by
// digest, and the Kubernetes objects under the app's `path`. Every document is parsed before any
// object reaches the apiserver, so invalid YAML fails the app without touching the cluster.
import { loadAll } from 'js-yaml';
import type { KubeObject } from './kube/client.ts';
import { OciError } from '../lib/oci/errors.ts';
import { KustomizeError, artifactDir, kustomizationIn, kustomizeBuild, type KustomizeOptions } from './kustomize.ts';
import { shedGarbage } from './memory.ts';
// Plain `${var}` scalars stay recognisable until substitution (agent/substitute.ts).
import { SUBSTITUTION_SCHEMA } from './substitute.ts';

/** Files of an unpacked artifact, relative path → content. */
export type ArtifactFiles = Map<string, Buffer>;

/** Pulls `repository@digest`, verifies every digest and unpacks it safely; throws OciError. */
export type ArtifactPuller = (repository: string, digest: string) => Promise<ArtifactFiles>;

export type FetchFailureReason =
  | 'ArtifactDigestMismatch'
  /** A required cosign signature is missing, by another key, or for another digest (agent/verify.ts). */
  | 'VerificationFailed'
  | 'UnsafeArtifact'
  | 'ArtifactTooLarge'
  | 'ArtifactNotFound'
  | 'InvalidArtifact'
  | 'RegistryUnauthorized'
  | 'RegistryUnavailable';

export class FetchError extends Error {
  constructor(
    readonly reason: FetchFailureReason,
    message: string,
    /** Worth retrying later with the same digest (the registry was down), as opposed to a bad artifact. */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

export function toFetchError(error: unknown): FetchError {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof OciError)) return new FetchError('RegistryUnavailable', message, true);
  switch (error.code) {
    case 'digest-mismatch':
      return new FetchError('ArtifactDigestMismatch', message, false);
    case 'unsafe-archive':
      return new FetchError('UnsafeArtifact', message, false);
    case 'too-large':
      return new FetchError('ArtifactTooLarge', message, false);
    case 'not-found':
      return new FetchError('ArtifactNotFound', message, true);
    case 'invalid-manifest':
    case 'invalid-reference':
      return new FetchError('InvalidArtifact', message, false);
    case 'unauthorized':
      return new FetchError('RegistryUnauthorized', message, true);
    case 'registry-error':
    case 'network-error':
      return new FetchError('RegistryUnavailable', message, true);
  }
}

/**
 * Unpacked artifacts by digest, least recently used evicted first once over `maxBytes`. A digest
 * names immutable content, so entries never go stale; the cache is what keeps an app reconciling
 * its current version while the registry is down.
 */
export class ArtifactCache {
  private readonly entries = new Map<string, { files: ArtifactFiles; bytes: number }>();
  private totalBytes = 0;

  constructor(private readonly maxBytes = 128 * 1024 * 1024) {}

  get(digest: string): ArtifactFiles | undefined {
    const entry = this.entries.get(digest);
    if (entry) {
      // Re-insert to keep the most recently used last.
      this.entries.delete(digest);
      this.entries.set(digest, entry);
    }
    return entry?.files;
  }

  set(digest: string, files: ArtifactFiles): void {
    if (this.entries.has(digest)) return;
    const bytes = [...files.values()].reduce((sum, file) => sum + file.length, 0);
    this.entries.set(digest, { files, bytes });
    this.totalBytes += bytes;
    // The newest entry always stays, even when it alone is over the limit.
    for (const [oldest, entry] of this.entries) {
      if (this.totalBytes <= this.maxBytes || oldest === digest) break;
      this.entries.delete(oldest);
      this.totalBytes -= entry.bytes;
    }
  }
}

export class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildError';
  }
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
/** Aliases per document (an alias bomb is a few lines that expand to gigabytes) and nesting depth. */
const MAX_ALIASES = 100;
const MAX_DEPTH = 64;

/** Normalises `path` ("." or "deploy/prod/") to a prefix of artifact paths ("" or "deploy/prod/"). */
function prefixOf(path: string): string {
  const trimmed = path.replace(/^\.\/?/, '').replace(/\/+$/, '');
  return trimmed ? `${trimmed}/` : '';
}

/**
 * How many nodes `value` has once every shared (aliased) object is copied out, counting each
 * distinct object once and stopping past `limit`; a cycle counts as unbounded.
 */
function expandedNodes(value: unknown, limit: number, sizes = new Map<object, number>()): number {
  if (value === null || typeof value !== 'object' || value instanceof String) return 1;
  const known = sizes.get(value);
  if (known !== undefined) return known;
  sizes.set(value, Number.POSITIVE_INFINITY); // in progress: meeting it again is a cycle
  let total = 1;
  for (const child of Array.isArray(value) ? value : Object.values(value)) {
    total += expandedNodes(child, limit, sizes);
    if (total > limit) break;
  }
  sizes.set(value, total);
  return total;
}

/**
 * Kubernetes objects from every YAML/JSON file under `path`, in lexical file order, `List`s
 * expanded and empty documents skipped. Any parse error fails the whole build with its file and line.
 */
export function buildObjects(files: ArtifactFiles, path: string): KubeObject[] {
  const prefix = prefixOf(path);
  const selected = [...files.keys()].filter((name) => name.startsWith(prefix) && MANIFEST_FILE.test(name)).sort();
  if (selected.length === 0) throw new BuildError(`no manifests under path "${path}" in the artifact`);
  const objects: KubeObject[] = [];
  for (const name of selected) {
    const text = (files.get(name) as Buffer).toString('utf8');
    parseManifests(name, text, objects);
    shedGarbage(text.length);
  }
  return objects;
}

/** kustomize's output for an artifact (by identity: the cache's entry) and path, or its deterministic error. */
const kustomized = new WeakMap<ArtifactFiles, Map<string, string | KustomizeError>>();

/**
 * The app's objects: `kustomize build` of its path when that holds a kustomization
 * (kustomization.yaml, .yml or Kustomization; agent/kustomize.ts), else buildObjects. The build's
 * output, or its refusal, is kept per artifact and path for as long as the artifact is, so a
 * reconcile of an unchanged version runs no process; every call returns fresh objects.
 */
export async function buildApp(files: ArtifactFiles, path: string, kustomize: KustomizeOptions = {}): Promise<KubeObject[]> {
  const dir = artifactDir(path);
  if (!kustomizationIn(files, dir)) return buildObjects(files, path);
  let byPath = kustomized.get(files);
  let output = byPath?.get(dir);
  if (output === undefined) {
    try {
      output = await kustomizeBuild(files, dir, kustomize);
    } catch (error) {
      if (!(error instanceof KustomizeError)) throw new BuildError(`kustomize: ${(error as Error).message}`);
      if (error.deterministic) output = error;
      else throw new BuildError(error.message);
    }
    if (!byPath) kustomized.set(files, (byPath = new Map()));
    byPath.set(dir, output);
  }
  if (output instanceof KustomizeError) throw new BuildError(output.message);
  return parseManifests(`kustomize build of "${dir || '.'}"`, output, []);
}

/** The Kubernetes objects of one YAML/JSON source, appended to `objects`. */
function parseManifests(name: string, source: string, objects: KubeObject[]): KubeObject[] {
  // js-yaml builds plain objects straight from the parser's events (no syntax tree kept):
  // about 3× faster and 15 MiB lighter than a document model for 500 objects (README, "Agent
  // memory"). YAML 1.2 core schema, duplicate keys refused, aliases and nesting bounded.
  let documents: unknown[];
  try {
    documents = [];
    loadAll(source, (document) => documents.push(document), { schema: SUBSTITUTION_SCHEMA, maxAliases: MAX_ALIASES, maxDepth: MAX_DEPTH, filename: name });
  } catch (error) {
    throw new BuildError(`${name}: invalid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  // Aliases share one object rather than copying it, so a few lines can still stand for
  // gigabytes once serialised: the documents may expand to twice as many nodes as the file has
  // bytes (no document without aliases comes near that), and no further.
  const budget = 2 * source.length + 1_000;
  if (expandedNodes(documents, budget) > budget) {
    throw new BuildError(`${name}: invalid YAML: its aliases expand to more than ${budget} nodes`);
  }
  let index = 0;
  for (const value of documents) {
    index++;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new BuildError(`${name}: document ${index} is not a Kubernetes object`);
    }
    const object = value as KubeObject;
    // `v1` lists (List, ConfigMapList…) are expanded as kubectl does; a custom resource whose
    // kind happens to end in "List" is an object of its own.
    if (object.apiVersion === 'v1' && typeof object.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object['items'])) {
      objects.push(...(object['items'] as KubeObject[]));
    } else {
      objects.push(object);
    }
  }
  return objects;
}
