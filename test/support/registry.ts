// Publishing test artifacts to the real registry of the test environment: well-formed ones through
// lib/oci (Flux's format), hostile ones assembled by hand, and a proxy in front of the registry that
// can corrupt blobs in flight or go down, to exercise digest verification and outages.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pushArtifact } from '../../lib/oci/artifact.ts';
import { RegistryClient } from '../../lib/oci/client.ts';
import { FLUX_CONFIG_MEDIA_TYPE, FLUX_CONTENT_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE } from '../../lib/oci/manifest.ts';
import { parseReference } from '../../lib/oci/reference.ts';

/** Pushes a directory made of `files` as a Flux artifact `host/repository:tag`; returns the manifest digest. */
export async function publishFiles(host: string, repository: string, tag: string, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-agent-artifact-'));
  try {
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    const pushed = await pushArtifact(new RegistryClient(), `${host}/${repository}:${tag}`, dir, {
      source: 'https://example.test/manifests.git',
      revision: `${tag}@sha1:0000000000000000000000000000000000000000`,
    });
    return pushed.digest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One ustar header + content, with whatever path it is given (no safety checks: that is the point). */
function tarEntry(path: string, content: string, type: '0' | '2' = '0', linkTarget = ''): Buffer {
  const data = Buffer.from(content);
  const header = Buffer.alloc(512);
  header.write(path, 0, 100);
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write((type === '0' ? data.length : 0).toString(8).padStart(11, '0') + '\0', 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write(type, 156);
  header.write(linkTarget, 157, 100);
  header.write('ustar\0', 257);
  header.write('00', 263);
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  header.write(checksum.toString(8).padStart(6, '0') + '\0 ', 148);
  const padding = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat(type === '0' ? [header, data, padding] : [header]);
}

/** A gzipped tar whose entries may escape the extraction root or be links. */
export function hostileLayer(entries: { path: string; content?: string; symlinkTo?: string }[]): Buffer {
  const blocks = entries.map((entry) =>
    entry.symlinkTo ? tarEntry(entry.path, '', '2', entry.symlinkTo) : tarEntry(entry.path, entry.content ?? ''),
  );
  return gzipSync(Buffer.concat([...blocks, Buffer.alloc(1024)]));
}

/** Pushes a hand-made layer in Flux's manifest layout; returns the manifest digest. */
export async function publishLayer(host: string, repository: string, tag: string, layer: Buffer): Promise<string> {
  const client = new RegistryClient();
  const reference = parseReference(`${host}/${repository}:${tag}`);
  const config = Buffer.from('{}');
  const configBlob = await client.pushBlob(reference, config);
  const layerBlob = await client.pushBlob(reference, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: { mediaType: FLUX_CONFIG_MEDIA_TYPE, digest: configBlob.digest, size: configBlob.size },
      layers: [{ mediaType: FLUX_CONTENT_MEDIA_TYPE, digest: layerBlob.digest, size: layerBlob.size }],
    }),
  );
  return client.pushManifest(reference, tag, manifest, OCI_MANIFEST_MEDIA_TYPE);
}

export type ProxyMode = 'pass' | 'corrupt-blobs' | 'down';

/**
 * An HTTP proxy in front of the real registry, listening on its own loopback port. `corrupt-blobs`
 * flips one byte of every blob it relays (a tampering middlebox); `down` drops connections as an
 * unreachable registry would. Counts the requests it saw.
 */
export class RegistryProxy {
  mode: ProxyMode = 'pass';
  requests = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly host: string,
  ) {}

  static async start(upstream: string): Promise<RegistryProxy> {
    const target = new URL(upstream);
    let proxy: RegistryProxy | undefined;
    const server = createServer((request, response) => {
      if (!proxy) return;
      proxy.requests++;
      if (proxy.mode === 'down') {
        request.socket.destroy();
        return;
      }
      const corrupt = proxy.mode === 'corrupt-blobs' && request.method === 'GET' && /\/blobs\/sha256:/.test(request.url ?? '');
      const forwarded = httpRequest(
        { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: { ...request.headers, host: target.host } },
        (upstreamResponse) => {
          if (!corrupt) {
            response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
            upstreamResponse.pipe(response);
            return;
          }
          const chunks: Buffer[] = [];
          upstreamResponse.on('data', (chunk: Buffer) => chunks.push(chunk));
          upstreamResponse.on('end', () => {
            const body = Buffer.concat(chunks);
            if (body.length > 0) body[body.length - 1] = (body[body.length - 1] ?? 0) ^ 0xff;
            response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
            response.end(body);
          });
        },
      );
      forwarded.on('error', () => response.destroy());
      request.pipe(forwarded);
    });
    server.on('connection', (socket) => {
      proxy?.sockets.add(socket);
      socket.on('close', () => proxy?.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new RegistryProxy(server, `127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
