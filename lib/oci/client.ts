// OCI distribution client over the global fetch: manifests, blobs, tags,
// with anonymous / basic / bearer-token auth and bounded retries. Everything
// downloaded is size-limited while it streams and checked against its digest.
import {
  basicAuthorization,
  parseChallenges,
  repositoryScope,
  TokenCache,
  type AuthChallenge,
  type CredentialResolver,
  type RegistryCredentials,
} from './auth.ts';
import { DigestVerifier, digestOf, verifyDigest } from './digest.ts';
import {
  DigestMismatchError,
  InvalidReferenceError,
  NetworkError,
  NotFoundError,
  OciError,
  RegistryError,
  TooLargeError,
  UnauthorizedError,
} from './errors.ts';
import { MANIFEST_ACCEPT, type Descriptor } from './manifest.ts';
import { formatRepository, isDigest, type Repository } from './reference.ts';
import { sleep } from '../sleep.ts';
import { DEFAULT_RETRY_POLICY, isRetryableStatus, retryDelayMs, type RetryPolicy } from './retry.ts';

export interface RegistryClientOptions {
  /** One set of credentials for every registry, or a lookup by registry host. */
  credentials?: RegistryCredentials | CredentialResolver;
  /** Use http:// instead of https://. Default: only for localhost, 127.0.0.0/8 and [::1]. */
  plainHttp?: boolean | ((registry: string) => boolean);
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  /** Blobs up to this size are uploaded with one PUT; bigger ones in PATCH chunks. */
  monolithicUploadMaxBytes?: number;
  /** Size of one PATCH chunk of a chunked upload. */
  uploadChunkBytes?: number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface ManifestResponse {
  bytes: Buffer;
  digest: string;
  /** Content-Type the registry answered with (the manifest's own mediaType field wins when parsed). */
  contentType: string | null;
}

export interface PushBlobOptions extends RequestOptions {
  /** Called after every uploaded chunk (and once when the blob already exists). */
  onProgress?: (bytesSent: number, totalBytes: number) => void;
}

export interface PushedBlob {
  digest: string;
  size: number;
  /** False when the registry already had the blob and nothing was sent. */
  uploaded: boolean;
}

export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
const MAX_TAG_PAGES = 10_000;

type RegistryAuthScheme = { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service?: string };

interface RegistryRequest extends RequestOptions {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** Registry host and token scope; requests without it (e.g. to a storage redirect on another host) carry no credentials. */
  auth?: { registry: string; scope: string };
}

function isLoopbackHost(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(host);
}

async function discardBody(response: Response): Promise<void> {
  await response.body?.cancel().catch(() => undefined);
}

/** Reads a response body, refusing it as soon as it passes maxBytes (and before, when Content-Length says so). */
async function readBody(response: Response, maxBytes: number, what: string): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await discardBody(response);
    throw new TooLargeError(what, maxBytes);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body) {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        await discardBody(response);
        throw new TooLargeError(what, maxBytes);
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks);
}

/** A JSON body the registry owes us; anything else is the registry's error, not a crash. */
async function readJson<T>(response: Response, maxBytes: number, what: string): Promise<T> {
  const body = await readBody(response, maxBytes, what);
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw new RegistryError(`${what}: the registry answered with invalid JSON`, response.status);
  }
}

/** Maps an unexpected registry answer to the error class callers branch on. */
async function errorForResponse(response: Response, what: string): Promise<OciError> {
  let detail = '';
  let registryCodes: string[] = [];
  try {
    const body = await readBody(response, MAX_ERROR_BODY_BYTES, 'error body');
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: string; message?: string }[] };
    registryCodes = (parsed.errors ?? []).map((error) => error.code ?? '').filter(Boolean);
    detail = (parsed.errors ?? []).map((error) => [error.code, error.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    // HEAD answers and non-JSON bodies carry no details; the status says enough.
  }
  const message = `${what}: HTTP ${response.status}${detail ? ` (${detail})` : ''}`;
  if (response.status === 401 || response.status === 403) return new UnauthorizedError(message, response.status);
  if (response.status === 404) return new NotFoundError(message);
  return new RegistryError(message, response.status, registryCodes);
}

export class RegistryClient {
  private readonly resolveCredentials: CredentialResolver;
  private readonly usePlainHttp: (registry: string) => boolean;
  private readonly retryPolicy: RetryPolicy;
  private readonly userAgent: string;
  private readonly monolithicUploadMaxBytes: number;
  private readonly uploadChunkBytes: number;
  private readonly tokens = new TokenCache();
  /** What each registry's challenge asked for, so later requests authenticate up front. */
  private readonly authSchemes = new Map<string, RegistryAuthScheme>();

  constructor(options: RegistryClientOptions = {}) {
    const { credentials, plainHttp } = options;
    this.resolveCredentials = typeof credentials === 'function' ? credentials : () => credentials;
    this.usePlainHttp = typeof plainHttp === 'function' ? plainHttp : (registry) => plainHttp ?? isLoopbackHost(registry);
    this.retryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.userAgent = options.userAgent ?? 'flotilla';
    this.monolithicUploadMaxBytes = options.monolithicUploadMaxBytes ?? 16 * 1024 * 1024;
    this.uploadChunkBytes = options.uploadChunkBytes ?? 8 * 1024 * 1024;
    if (this.uploadChunkBytes <= 0 || this.monolithicUploadMaxBytes < 0) {
      throw new RangeError('uploadChunkBytes must be positive and monolithicUploadMaxBytes not negative');
    }
  }

  /** Tag → manifest descriptor: HEAD first (cheap, and not counted as a pull by most registries), GET when HEAD does not tell. */
  async resolveTag(repository: Repository, tag: string, options: RequestOptions = {}): Promise<Descriptor> {
    const what = `resolve ${formatRepository(repository)}:${tag}`;
    const url = this.repositoryUrl(repository, `manifests/${encodeURIComponent(tag)}`);
    const request = { url, headers: { Accept: MANIFEST_ACCEPT }, auth: this.scope(repository, false), signal: options.signal };
    const head = await this.send({ ...request, method: 'HEAD' });
    await discardBody(head);
    const headDigest = head.headers.get('docker-content-digest');
    if (head.ok && headDigest && isDigest(headDigest)) {
      return {
        mediaType: head.headers.get('content-type')?.split(';')[0]?.trim() ?? '',
        digest: headDigest,
        size: Number(head.headers.get('content-length') ?? 0),
      };
    }
    if (head.status === 401 || head.status === 403 || head.status === 404) throw await errorForResponse(head, what);

    const response = await this.send({ ...request, method: 'GET' });
    if (!response.ok) throw await errorForResponse(response, what);
    const bytes = await readBody(response, DEFAULT_MAX_MANIFEST_BYTES, `manifest ${formatRepository(repository)}:${tag}`);
    const claimed = response.headers.get('docker-content-digest');
    const digest = claimed && isDigest(claimed) ? claimed : digestOf(bytes);
    verifyDigest(`manifest ${formatRepository(repository)}:${tag}`, bytes, digest);
    return { mediaType: mediaTypeOf(bytes, response.headers.get('content-type')), digest, size: bytes.byteLength };
  }

  /** The manifest with this digest, verified against it. */
  async getManifest(
    repository: Repository,
    digest: string,
    options: RequestOptions & { maxBytes?: number } = {},
  ): Promise<ManifestResponse> {
    const name = `manifest ${formatRepository(repository)}@${digest}`;
    if (!isDigest(digest)) throw new InvalidReferenceError(`${name}: not a digest`);
    const response = await this.send({
      method: 'GET',
      url: this.repositoryUrl(repository, `manifests/${digest}`),
      headers: { Accept: MANIFEST_ACCEPT },
      auth: this.scope(repository, false),
      signal: options.signal,
    });
    if (!response.ok) throw await errorForResponse(response, `get ${name}`);
    const bytes = await readBody(response, options.maxBytes ?? DEFAULT_MAX_MANIFEST_BYTES, name);
    verifyDigest(name, bytes, digest);
    return { bytes, digest, contentType: response.headers.get('content-type') };
  }

  /**
   * Streams a blob. Chunks are hashed and counted as they pass; the stream
   * throws TooLargeError as soon as it passes maxBytes or the declared size, and
   * DigestMismatchError at its end. Nothing read is trustworthy until the
   * iteration has finished without an error.
   */
  async *openBlob(
    repository: Repository,
    blob: { digest: string; size?: number },
    options: RequestOptions & { maxBytes: number },
  ): AsyncGenerator<Uint8Array, void, undefined> {
    const name = `blob ${formatRepository(repository)}@${blob.digest}`;
    if (blob.size !== undefined && blob.size > options.maxBytes) throw new TooLargeError(name, options.maxBytes);
    const verifier = new DigestVerifier(name, blob.digest, { maxBytes: options.maxBytes, expectedSize: blob.size });
    const response = await this.send({
      method: 'GET',
      url: this.repositoryUrl(repository, `blobs/${blob.digest}`),
      auth: this.scope(repository, false),
      signal: options.signal,
    });
    if (!response.ok) throw await errorForResponse(response, `get ${name}`);
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > options.maxBytes) {
      await discardBody(response);
      throw new TooLargeError(name, options.maxBytes);
    }
    let finished = false;
    try {
      for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
        verifier.update(chunk);
        yield chunk;
      }
      finished = true;
    } finally {
      if (!finished) await discardBody(response);
    }
    verifier.verify();
  }

  /** A whole blob in memory, verified; for small blobs such as configs and artifact layers. */
  async getBlob(
    repository: Repository,
    blob: { digest: string; size?: number },
    options: RequestOptions & { maxBytes: number },
  ): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.openBlob(repository, blob, options)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  async blobExists(repository: Repository, digest: string, options: RequestOptions & { push?: boolean } = {}): Promise<boolean> {
    const response = await this.send({
      method: 'HEAD',
      url: this.repositoryUrl(repository, `blobs/${digest}`),
      auth: this.scope(repository, options.push ?? false),
      signal: options.signal,
    });
    await discardBody(response);
    if (response.ok) return true;
    if (response.status === 404) return false;
    throw await errorForResponse(response, `check blob ${formatRepository(repository)}@${digest}`);
  }

  /** Uploads a blob unless the registry already has it: one PUT when small, PATCH chunks when big. */
  async pushBlob(repository: Repository, data: Uint8Array, options: PushBlobOptions = {}): Promise<PushedBlob> {
    const digest = digestOf(data);
    const size = data.byteLength;
    const name = `blob ${formatRepository(repository)}@${digest}`;
    const auth = this.scope(repository, true);
    const { signal, onProgress } = options;
    if (await this.blobExists(repository, digest, { push: true, signal })) {
      onProgress?.(size, size);
      return { digest, size, uploaded: false };
    }

    const started = await this.send({
      method: 'POST',
      url: this.repositoryUrl(repository, 'blobs/uploads/'),
      headers: { 'Content-Length': '0' },
      auth,
      signal,
    });
    if (started.status !== 202) throw await errorForResponse(started, `start upload of ${name}`);
    await discardBody(started);
    let location = this.uploadLocation(started, repository);

    if (size > this.monolithicUploadMaxBytes) {
      for (let offset = 0; offset < size; offset += this.uploadChunkBytes) {
        const chunk = data.subarray(offset, Math.min(offset + this.uploadChunkBytes, size));
        const patched = await this.send({
          method: 'PATCH',
          url: location,
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Range': `${offset}-${offset + chunk.byteLength - 1}`,
            'Content-Length': String(chunk.byteLength),
          },
          body: chunk,
          auth: this.authFor(location, auth),
          signal,
        });
        if (patched.status !== 202) throw await errorForResponse(patched, `upload chunk at ${offset} of ${name}`);
        await discardBody(patched);
        location = this.uploadLocation(patched, repository);
        onProgress?.(offset + chunk.byteLength, size);
      }
    }

    const monolithic = size <= this.monolithicUploadMaxBytes;
    location.searchParams.set('digest', digest);
    const completed = await this.send({
      method: 'PUT',
      url: location,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(monolithic ? size : 0),
      },
      ...(monolithic ? { body: data } : {}),
      auth: this.authFor(location, auth),
      signal,
    });
    if (completed.status !== 201) throw await errorForResponse(completed, `complete upload of ${name}`);
    await discardBody(completed);
    const stored = completed.headers.get('docker-content-digest');
    if (stored && stored !== digest) throw new DigestMismatchError(`registry stored ${name}`, digest, stored);
    if (monolithic) onProgress?.(size, size);
    return { digest, size, uploaded: true };
  }

  /** Stores a manifest under a tag (or its own digest); returns its digest. */
  async pushManifest(
    repository: Repository,
    tagOrDigest: string,
    manifest: Uint8Array,
    mediaType: string,
    options: RequestOptions = {},
  ): Promise<string> {
    const digest = digestOf(manifest);
    if (isDigest(tagOrDigest) && tagOrDigest !== digest) {
      throw new DigestMismatchError('manifest pushed by digest', tagOrDigest, digest);
    }
    const name = `manifest ${formatRepository(repository)}:${tagOrDigest}`;
    const response = await this.send({
      method: 'PUT',
      url: this.repositoryUrl(repository, `manifests/${encodeURIComponent(tagOrDigest)}`),
      headers: { 'Content-Type': mediaType, 'Content-Length': String(manifest.byteLength) },
      body: manifest,
      auth: this.scope(repository, true),
      signal: options.signal,
    });
    if (response.status !== 201) throw await errorForResponse(response, `push ${name}`);
    await discardBody(response);
    const stored = response.headers.get('docker-content-digest');
    if (stored && stored !== digest) throw new DigestMismatchError(`registry stored ${name}`, digest, stored);
    return digest;
  }

  /**
   * The OCI 1.1 referrers of a manifest (an image index of descriptors whose `subject` is `digest`),
   * filtered by `artifactType` when given. Null when the registry has no referrers API (404 or 405
   * on the endpoint): the caller falls back to the referrers tag schema (`sha256-<hex>`).
   */
  async listReferrers(
    repository: Repository,
    digest: string,
    options: RequestOptions & { artifactType?: string } = {},
  ): Promise<Descriptor[] | null> {
    const what = `referrers of ${formatRepository(repository)}@${digest}`;
    if (!isDigest(digest)) throw new InvalidReferenceError(`${what}: not a digest`);
    const url = this.repositoryUrl(repository, `referrers/${digest}`);
    if (options.artifactType) url.searchParams.set('artifactType', options.artifactType);
    const response = await this.send({
      method: 'GET',
      url,
      headers: { Accept: 'application/vnd.oci.image.index.v1+json' },
      auth: this.scope(repository, false),
      signal: options.signal,
    });
    if (response.status === 404 || response.status === 405) {
      await discardBody(response);
      return null;
    }
    if (!response.ok) throw await errorForResponse(response, what);
    const index = await readJson<{ manifests?: unknown }>(response, DEFAULT_MAX_MANIFEST_BYTES, what);
    if (!Array.isArray(index.manifests)) return [];
    return (index.manifests as Descriptor[]).filter(
      (entry) => typeof entry === 'object' && entry !== null && typeof entry.digest === 'string' && isDigest(entry.digest) && typeof entry.mediaType === 'string',
    );
  }

  /** Every tag of a repository, following the registry's Link pagination (`n` per page when given). */
  async listTags(repository: Repository, options: RequestOptions & { pageSize?: number } = {}): Promise<string[]> {
    const tags: string[] = [];
    let url: URL | undefined = this.repositoryUrl(repository, 'tags/list');
    if (options.pageSize !== undefined) url.searchParams.set('n', String(options.pageSize));
    const seen = new Set<string>();
    while (url) {
      if (seen.has(url.href) || seen.size >= MAX_TAG_PAGES) {
        throw new RegistryError(`list tags of ${formatRepository(repository)}: pagination does not end`, 200);
      }
      seen.add(url.href);
      const response = await this.send({ method: 'GET', url, auth: this.scope(repository, false), signal: options.signal });
      if (!response.ok) throw await errorForResponse(response, `list tags of ${formatRepository(repository)}`);
      const page = await readJson<{ tags?: string[] | null }>(response, DEFAULT_MAX_MANIFEST_BYTES, `tag list of ${formatRepository(repository)}`);
      tags.push(...(page.tags ?? []));
      const next = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(response.headers.get('link') ?? '')?.[1];
      url = next ? new URL(next, url) : undefined;
    }
    return tags;
  }

  private baseUrl(registry: string): string {
    return `${this.usePlainHttp(registry) ? 'http' : 'https'}://${registry}`;
  }

  private repositoryUrl(repository: Repository, suffix: string): URL {
    return new URL(`/v2/${repository.name}/${suffix}`, this.baseUrl(repository.registry));
  }

  private scope(repository: Repository, push: boolean): { registry: string; scope: string } {
    return { registry: repository.registry, scope: repositoryScope(repository.name, push) };
  }

  /** Upload locations may point at another host (a storage backend); registry credentials stay with the registry. */
  private authFor(url: URL, auth: { registry: string; scope: string }) {
    return url.host === new URL(this.baseUrl(auth.registry)).host ? auth : undefined;
  }

  private uploadLocation(response: Response, repository: Repository): URL {
    const location = response.headers.get('location');
    if (!location) {
      throw new RegistryError(`upload to ${formatRepository(repository)}: registry sent no Location`, response.status);
    }
    return new URL(location, this.baseUrl(repository.registry));
  }

  /** Sends a request with what we know of the registry's auth; answers one 401 challenge, then gives the caller the response. */
  private async send(request: RegistryRequest): Promise<Response> {
    let authorization = request.auth && this.cachedAuthorization(request.auth.registry, request.auth.scope);
    const response = await this.fetchWithRetry(request, authorization);
    if (response.status !== 401 || !request.auth) return response;
    const challenges = parseChallenges(response.headers.get('www-authenticate') ?? '');
    await discardBody(response);
    authorization = await this.answerChallenge(request.auth.registry, request.auth.scope, challenges, request.signal);
    return this.fetchWithRetry(request, authorization);
  }

  private cachedAuthorization(registry: string, scope: string): string | undefined {
    const credentials = this.resolveCredentials(registry);
    if (credentials && 'token' in credentials) return `Bearer ${credentials.token}`;
    const known = this.authSchemes.get(registry);
    if (known?.scheme === 'basic' && credentials) return basicAuthorization(credentials.username, credentials.password);
    if (known?.scheme === 'bearer') {
      const token = this.tokens.get(registry, scope);
      if (token) return `Bearer ${token}`;
    }
    return undefined;
  }

  private async answerChallenge(
    registry: string,
    scope: string,
    challenges: AuthChallenge[],
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const credentials = this.resolveCredentials(registry);
    if (credentials && 'token' in credentials) {
      throw new UnauthorizedError(`${registry} refused the bearer token it was given`, 401);
    }
    const bearer = challenges.find((challenge) => challenge.scheme === 'bearer' && challenge.params.realm);
    if (bearer?.params.realm) {
      const scheme: RegistryAuthScheme = { scheme: 'bearer', realm: bearer.params.realm, service: bearer.params.service };
      this.authSchemes.set(registry, scheme);
      // A token that was just refused (expired, revoked) must not be offered again.
      this.tokens.delete(registry, scope);
      const scopes = [...new Set([scope, bearer.params.scope].filter((value): value is string => Boolean(value)))];
      const token = await this.fetchToken(registry, scheme, scopes, credentials, signal);
      this.tokens.set(registry, scope, token.token, token.expiresInSeconds);
      return `Bearer ${token.token}`;
    }
    if (challenges.some((challenge) => challenge.scheme === 'basic')) {
      if (!credentials) throw new UnauthorizedError(`${registry} requires credentials (basic auth) and none were given`, 401);
      this.authSchemes.set(registry, { scheme: 'basic' });
      return basicAuthorization(credentials.username, credentials.password);
    }
    const offered = challenges.map((challenge) => challenge.scheme).join(', ') || 'no WWW-Authenticate challenge';
    throw new UnauthorizedError(`${registry} answered 401 with ${offered}, which this client cannot answer`, 401);
  }

  /** The distribution token flow: GET realm?service=…&scope=…, with basic credentials when we have them. */
  private async fetchToken(
    registry: string,
    scheme: { realm: string; service?: string },
    scopes: string[],
    credentials: { username: string; password: string } | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ token: string; expiresInSeconds?: number }> {
    const url = new URL(scheme.realm);
    // Credentials go to the token realm the registry names; never in clear text when the registry itself is HTTPS.
    if (credentials && url.protocol !== 'https:' && !this.usePlainHttp(registry)) {
      throw new UnauthorizedError(`${registry} names a token realm over plain HTTP (${url.origin}); refusing to send credentials there`, 401);
    }
    if (scheme.service) url.searchParams.set('service', scheme.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const authorization = credentials && basicAuthorization(credentials.username, credentials.password);
    const response = await this.fetchWithRetry({ method: 'GET', url, signal }, authorization);
    if (!response.ok) throw await errorForResponse(response, `token for ${registry} from ${url.origin}${url.pathname}`);
    const body = await readJson<{ token?: string; access_token?: string; expires_in?: number }>(
      response,
      MAX_TOKEN_RESPONSE_BYTES,
      `token for ${registry}`,
    );
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`token service for ${registry} answered without a token`, response.status);
    return { token, expiresInSeconds: typeof body.expires_in === 'number' ? body.expires_in : undefined };
  }

  private async fetchWithRetry(request: RegistryRequest, authorization: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...request.headers };
    if (authorization) headers.Authorization = authorization;
    for (let retry = 0; ; retry++) {
      let response: Response;
      try {
        response = await fetch(request.url, {
          method: request.method,
          headers,
          body: request.body,
          signal: request.signal,
        });
      } catch (error) {
        if (request.signal?.aborted) throw error;
        if (retry >= this.retryPolicy.maxRetries) {
          throw new NetworkError(`${request.method} ${request.url.origin}${request.url.pathname}: ${(error as Error).message}`, error);
        }
        await sleep(retryDelayMs(this.retryPolicy, retry), request.signal);
        continue;
      }
      if (!isRetryableStatus(response.status) || retry >= this.retryPolicy.maxRetries) return response;
      await discardBody(response);
      await sleep(retryDelayMs(this.retryPolicy, retry, response.headers.get('retry-after')), request.signal);
    }
  }
}

function mediaTypeOf(manifest: Uint8Array, contentType: string | null): string {
  try {
    const parsed = JSON.parse(Buffer.from(manifest).toString('utf8')) as { mediaType?: unknown };
    if (typeof parsed.mediaType === 'string') return parsed.mediaType;
  } catch {
    // Not JSON: fall back to what the registry said it is.
  }
  return contentType?.split(';')[0]?.trim() ?? '';
}
