// Protocol behaviour a real registry cannot be made to show on demand (throttling, outages,
// lying about content, token expiry) against a scripted HTTP server. Everything a real
// registry does is tested against one in test/interop.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient, type RegistryClientOptions } from './client.ts';
import { digestOf } from './digest.ts';
import { DigestMismatchError, NetworkError, NotFoundError, RegistryError, TooLargeError, UnauthorizedError } from './errors.ts';
import { OCI_MANIFEST_MEDIA_TYPE } from './manifest.ts';
import { sleep } from '../sleep.ts';

interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

type Handler = (request: IncomingMessage, response: ServerResponse, body: Buffer) => void;

const servers: { close: () => void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function scriptedServer(handler: Handler) {
  const requests: RecordedRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
      handler(request, response, Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  });
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { host, requests, repository: { registry: host, name: 'team/app' } };
}

const fastRetries: RegistryClientOptions['retry'] = { maxRetries: 3, baseDelayMs: 1, maxDelayMs: 5 };
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST_MEDIA_TYPE, config: {}, layers: [] }));
const manifestDigest = digestOf(manifest);

function serveManifest(response: ServerResponse, method: string, withDigest = true) {
  response.writeHead(200, {
    'Content-Type': OCI_MANIFEST_MEDIA_TYPE,
    'Content-Length': manifest.length,
    ...(withDigest ? { 'Docker-Content-Digest': manifestDigest } : {}),
  });
  response.end(method === 'HEAD' ? undefined : manifest);
}

describe('RegistryClient retries', () => {
  it('retries 503 and 429 (honouring Retry-After) until the registry answers', async () => {
    const statuses = [503, 429, 502];
    const registry = await scriptedServer((request, response) => {
      const status = statuses.shift();
      if (status) {
        response.writeHead(status, status === 429 ? { 'Retry-After': '0' } : {});
        response.end();
        return;
      }
      serveManifest(response, request.method ?? '');
    });
    const client = new RegistryClient({ retry: fastRetries });
    const descriptor = await client.resolveTag(registry.repository, 'v1');
    expect(descriptor).toEqual({ mediaType: OCI_MANIFEST_MEDIA_TYPE, digest: manifestDigest, size: manifest.length });
    expect(registry.requests).toHaveLength(4);
  });

  it('gives up after maxRetries with the last status', async () => {
    const registry = await scriptedServer((_request, response) => {
      response.writeHead(503, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'down for maintenance' }] }));
    });
    const client = new RegistryClient({ retry: { ...fastRetries, maxRetries: 2 } });
    const error = await client.getManifest(registry.repository, manifestDigest).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ code: 'registry-error', status: 503, registryCodes: ['UNAVAILABLE'] });
    expect((error as Error).message).toContain('down for maintenance');
    expect(registry.requests).toHaveLength(3);
  });

  it('turns a registry that cannot be reached into a NetworkError after retrying', async () => {
    const registry = await scriptedServer(() => undefined);
    servers.pop()?.close();
    await sleep(10);
    const client = new RegistryClient({ retry: fastRetries });
    const error = await client.listTags(registry.repository).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: 'network-error' });
  });
});

describe('RegistryClient bearer-token auth', () => {
  async function tokenRegistry(validCredentials = 'ci:secret') {
    const tokenRequests: URL[] = [];
    const issued = new Set<string>();
    const registry = await scriptedServer((request, response) => {
      const url = new URL(request.url ?? '', 'http://x');
      if (url.pathname === '/token') {
        tokenRequests.push(url);
        if (request.headers.authorization !== `Basic ${Buffer.from(validCredentials).toString('base64')}`) {
          response.writeHead(401, { 'Content-Type': 'application/json' });
          response.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
          return;
        }
        const token = `token-${tokenRequests.length}-${url.searchParams.getAll('scope').join('+')}`;
        issued.add(token);
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ token, expires_in: 300 }));
        return;
      }
      const token = request.headers.authorization?.replace(/^Bearer /, '');
      const push = request.method === 'POST' || request.method === 'PUT' || url.pathname.includes('/blobs/');
      const scope = `repository:team/app:${push ? 'pull,push' : 'pull'}`;
      if (!token || !issued.has(token) || !token.includes(scope)) {
        response.writeHead(401, {
          'WWW-Authenticate': `Bearer realm="http://${registry.host}/token",service="scripted",scope="${scope}"`,
        });
        response.end();
        return;
      }
      if (url.pathname.includes('/blobs/')) {
        response.writeHead(404);
        response.end();
        return;
      }
      serveManifest(response, request.method ?? '');
    });
    return { ...registry, tokenRequests };
  }

  it('fetches a token for the scope with basic credentials, caches it, and gets another for a push scope', async () => {
    const registry = await tokenRegistry();
    const client = new RegistryClient({ credentials: { username: 'ci', password: 'secret' }, retry: fastRetries });
    await client.resolveTag(registry.repository, 'v1');
    await client.resolveTag(registry.repository, 'v2');
    expect(registry.tokenRequests).toHaveLength(1);
    expect(registry.tokenRequests[0]?.searchParams.get('service')).toBe('scripted');
    expect(registry.tokenRequests[0]?.searchParams.getAll('scope')).toEqual(['repository:team/app:pull']);

    expect(await client.blobExists(registry.repository, manifestDigest, { push: true })).toBe(false);
    expect(registry.tokenRequests).toHaveLength(2);
    expect(registry.tokenRequests[1]?.searchParams.getAll('scope')).toEqual(['repository:team/app:pull,push']);
    // Only the first request of each scope went out without a token; the rest reused the cached one.
    const challenged = registry.requests.filter((request) => !request.url.startsWith('/token') && !request.headers.authorization);
    expect(challenged).toHaveLength(2);
  });

  it('reports refused credentials as UnauthorizedError', async () => {
    const registry = await tokenRegistry();
    const client = new RegistryClient({ credentials: { username: 'ci', password: 'wrong' }, retry: fastRetries });
    const error = await client.resolveTag(registry.repository, 'v1').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect((error as Error).message).toContain('bad credentials');
  });

  it('sends a given bearer token as is and reports it refused', async () => {
    const registry = await tokenRegistry();
    const client = new RegistryClient({ credentials: { token: 'not-issued' }, retry: fastRetries });
    await expect(client.resolveTag(registry.repository, 'v1')).rejects.toBeInstanceOf(UnauthorizedError);
    expect(registry.requests[0]?.headers.authorization).toBe('Bearer not-issued');
    expect(registry.tokenRequests).toHaveLength(0);
  });
});

describe('RegistryClient manifests and blobs', () => {
  it('sends OCI Accept headers, and falls back to GET when HEAD gives no digest', async () => {
    const registry = await scriptedServer((request, response) => serveManifest(response, request.method ?? '', false));
    const client = new RegistryClient({ retry: fastRetries });
    expect((await client.resolveTag(registry.repository, 'v1')).digest).toBe(manifestDigest);
    expect(registry.requests.map((request) => request.method)).toEqual(['HEAD', 'GET']);
    expect(registry.requests[0]?.headers.accept).toContain(OCI_MANIFEST_MEDIA_TYPE);
  });

  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    const registry = await scriptedServer((request, response) => serveManifest(response, request.method ?? ''));
    const client = new RegistryClient({ retry: fastRetries });
    const otherDigest = digestOf(Buffer.from('something else'));
    await expect(client.getManifest(registry.repository, otherDigest)).rejects.toBeInstanceOf(DigestMismatchError);
  });

  it('maps 404 to NotFoundError with the registry error code', async () => {
    const registry = await scriptedServer((_request, response) => {
      response.writeHead(404, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
    });
    const client = new RegistryClient({ retry: fastRetries });
    const error = await client.getManifest(registry.repository, manifestDigest).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toContain('MANIFEST_UNKNOWN');
  });

  describe('blob downloads', () => {
    const blob = Buffer.alloc(64 * 1024, 1);
    const digest = digestOf(blob);

    async function blobServer(body: Buffer, options: { contentLength?: boolean } = {}) {
      return scriptedServer((_request, response) => {
        response.writeHead(200, options.contentLength === false ? {} : { 'Content-Length': body.length });
        response.end(body);
      });
    }

    async function download(client: RegistryClient, repository: { registry: string; name: string }, maxBytes: number, size?: number) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of client.openBlob(repository, { digest, size }, { maxBytes })) chunks.push(chunk);
      return Buffer.concat(chunks);
    }

    it('streams a blob that matches its digest', async () => {
      const registry = await blobServer(blob);
      expect((await download(new RegistryClient(), registry.repository, blob.length, blob.length)).equals(blob)).toBe(true);
    });

    it('refuses content that does not match the digest, or the declared size', async () => {
      const tampered = Buffer.from(blob);
      tampered[100] = 2;
      const registry = await blobServer(tampered);
      await expect(download(new RegistryClient(), registry.repository, blob.length)).rejects.toBeInstanceOf(DigestMismatchError);
      await expect(download(new RegistryClient(), registry.repository, blob.length, blob.length - 1)).rejects.toThrow(/size/);
    });

    it('refuses a blob over maxBytes, from Content-Length or while streaming', async () => {
      const declared = await blobServer(blob);
      await expect(download(new RegistryClient(), declared.repository, blob.length - 1)).rejects.toBeInstanceOf(TooLargeError);
      const undeclared = await blobServer(blob, { contentLength: false });
      await expect(download(new RegistryClient(), undeclared.repository, 1024)).rejects.toBeInstanceOf(TooLargeError);
      // A declared size over the limit is refused before any request.
      await expect(download(new RegistryClient(), declared.repository, 10, blob.length)).rejects.toBeInstanceOf(TooLargeError);
      expect(declared.requests).toHaveLength(1);
    });
  });

  it('keeps registry credentials away from an upload location on another host', async () => {
    const storage = await scriptedServer((_request, response) => {
      response.writeHead(201);
      response.end();
    });
    const registry = await scriptedServer((request, response) => {
      if (!request.headers.authorization) {
        response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="scripted"' });
        response.end();
      } else if (request.method === 'HEAD') {
        response.writeHead(404);
        response.end();
      } else {
        response.writeHead(202, { Location: `http://${storage.host}/upload/1?_state=abc` });
        response.end();
      }
    });
    const client = new RegistryClient({ credentials: { username: 'ci', password: 'secret' }, retry: fastRetries });
    const pushed = await client.pushBlob(registry.repository, Buffer.from('layer'));
    expect(pushed).toMatchObject({ uploaded: true, size: 5 });
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]?.headers.authorization).toBeUndefined();
    expect(storage.requests[0]?.url).toBe(`/upload/1?_state=abc&digest=${encodeURIComponent(pushed.digest)}`);
  });
});

it('follows Link pagination, relative or absolute, and sends n', async () => {
  const registry = await scriptedServer((request, response) => {
    const url = new URL(request.url ?? '', 'http://x');
    const pages: Record<string, { tags: string[]; next?: string }> = {
      '': { tags: ['a', 'b'], next: '</v2/team/app/tags/list?n=2&last=b>; rel="next"' },
      b: { tags: ['c', 'd'], next: `<http://${registry.host}/v2/team/app/tags/list?n=2&last=d>; rel="next"` },
      d: { tags: ['e'] },
    };
    const page = pages[url.searchParams.get('last') ?? ''];
    response.writeHead(200, { 'Content-Type': 'application/json', ...(page?.next ? { Link: page.next } : {}) });
    response.end(JSON.stringify({ name: 'team/app', tags: page?.tags }));
  });
  const tags = await new RegistryClient().listTags(registry.repository, { pageSize: 2 });
  expect(tags).toEqual(['a', 'b', 'c', 'd', 'e']);
  expect(registry.requests.map((request) => request.url)).toEqual([
    '/v2/team/app/tags/list?n=2',
    '/v2/team/app/tags/list?n=2&last=b',
    '/v2/team/app/tags/list?n=2&last=d',
  ]);
});
