import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { buildArtifact } from './artifact.ts';
import { digestOf } from './digest.ts';
import { extractTarGz } from './untar.ts';

const run = promisify(execFile);
const meta = { source: 'https://git.example.com/team/app.git', revision: 'main@sha1:0123456789abcdef0123456789abcdef01234567' };
const created = '2026-01-02T03:04:05Z';

const scratchDirs: string[] = [];
afterEach(async () => {
  await Promise.all(scratchDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function directoryWith(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-artifact-'));
  scratchDirs.push(dir);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

/** `tar -tv` by GNU tar, an independent reader: mode, owner, size, time and name of every entry. */
async function gnuTarListing(layer: Buffer): Promise<string[]> {
  const dir = await directoryWith({});
  await writeFile(join(dir, 'layer.tar.gz'), layer);
  const { stdout } = await run('tar', ['--numeric-owner', '--full-time', '-tvzf', join(dir, 'layer.tar.gz')], {
    env: { ...process.env, TZ: 'UTC' },
  });
  return stdout.trimEnd().split('\n').map((line) => line.replace(/\s+/g, ' '));
}

describe('buildArtifact', () => {
  it('writes a reproducible tar: root first, bytewise depth-first order, owner 0/0, zero times, normalised modes', async () => {
    const dir = await directoryWith({ 'b.yaml': 'b\n', 'a/y.yaml': 'y\n', 'a-b/x.yaml': 'x\n', 'run.sh': '#!/bin/sh\n' });
    await chmod(join(dir, 'b.yaml'), 0o600);
    await chmod(join(dir, 'run.sh'), 0o700);
    await mkdir(join(dir, 'empty'));
    const { layer } = await buildArtifact(dir, { ...meta, created });
    expect(await gnuTarListing(layer)).toEqual([
      'drwxr-xr-x 0/0 0 1970-01-01 00:00:00 .',
      'drwxr-xr-x 0/0 0 1970-01-01 00:00:00 a',
      '-rw-r--r-- 0/0 2 1970-01-01 00:00:00 a/y.yaml',
      'drwxr-xr-x 0/0 0 1970-01-01 00:00:00 a-b',
      '-rw-r--r-- 0/0 2 1970-01-01 00:00:00 a-b/x.yaml',
      '-rw-r--r-- 0/0 2 1970-01-01 00:00:00 b.yaml',
      'drwxr-xr-x 0/0 0 1970-01-01 00:00:00 empty',
      '-rwxr-xr-x 0/0 10 1970-01-01 00:00:00 run.sh',
    ]);
  });

  it('gives the same layer and digest for the same content regardless of times and permissions', async () => {
    const files = { 'apps/web.yaml': 'kind: Deployment\n', 'apps/db.yaml': 'kind: StatefulSet\n' };
    const first = await directoryWith(files);
    const second = await directoryWith(files);
    await utimes(join(second, 'apps/web.yaml'), new Date('2001-01-01'), new Date('2001-01-01'));
    await chmod(join(second, 'apps/db.yaml'), 0o640);
    const [a, b] = await Promise.all([buildArtifact(first, { ...meta, created }), buildArtifact(second, { ...meta, created })]);
    expect(b.layer.equals(a.layer)).toBe(true);
    expect(b.digest).toBe(a.digest);
    expect((await buildArtifact(first, { ...meta, created: '2026-01-02T03:04:06Z' })).digest).not.toBe(a.digest);
  });

  it("writes Flux's config and manifest: media types, sizes, digests, sorted annotations, Go's JSON escaping", async () => {
    const dir = await directoryWith({ 'app.yaml': 'kind: ConfigMap\n' });
    const built = await buildArtifact(dir, { source: 'https://example.com/?a=1&b=<2>', revision: 'v1', created });
    // What fluxcd/pkg/oci's Push writes for this created time (checked against Flux in test/interop).
    expect(built.config.toString()).toBe(
      `{"architecture":"","created":"${created}","os":"","rootfs":{"type":"layers","diff_ids":null},"config":{}}`,
    );
    expect(built.manifest.toString()).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
        `"config":{"mediaType":"application/vnd.cncf.flux.config.v1+json","size":${built.config.length},"digest":"${digestOf(built.config)}"},` +
        `"layers":[{"mediaType":"application/vnd.cncf.flux.content.v1.tar+gzip","size":${built.layer.length},"digest":"${digestOf(built.layer)}"}],` +
        `"annotations":{"org.opencontainers.image.created":"${created}","org.opencontainers.image.revision":"v1",` +
        '"org.opencontainers.image.source":"https://example.com/?a=1\\u0026b=\\u003c2\\u003e"}}',
    );
    expect(built.digest).toBe(digestOf(built.manifest));
    expect(JSON.parse(built.manifest.toString()).annotations['org.opencontainers.image.source']).toBe('https://example.com/?a=1&b=<2>');
  });

  it('normalises created to RFC 3339 UTC seconds, and refuses what is not a timestamp', async () => {
    const dir = await directoryWith({ 'a.yaml': 'a' });
    const built = await buildArtifact(dir, { ...meta, created: '2026-01-02T05:04:05.123+02:00' });
    expect(JSON.parse(built.manifest.toString()).annotations['org.opencontainers.image.created']).toBe(created);
    await expect(buildArtifact(dir, { ...meta, created: 'yesterday' })).rejects.toThrow(/RFC 3339/);
    await expect(buildArtifact(join(dir, 'a.yaml'), meta)).rejects.toThrow(/not a directory/);
  });

  it('leaves out .git/ and ignored paths, and skips symlinks, reporting them', async () => {
    const dir = await directoryWith({
      '.git/HEAD': 'ref: refs/heads/main\n',
      'apps/web.yaml': 'web',
      'apps/README.md': 'docs',
      'apps/KEEP.md': 'kept',
      'secrets/key.yaml': 'secret',
      'nested/secrets/ok.yaml': 'not anchored',
    });
    await symlink(join(dir, 'apps/web.yaml'), join(dir, 'apps/link.yaml'));
    const built = await buildArtifact(dir, { ...meta, created, ignore: ['*.md', '!KEEP.md', '/secrets/'] });
    const files = await extractTarGz(built.layer);
    expect([...files.keys()].sort()).toEqual(['apps/KEEP.md', 'apps/web.yaml', 'nested/secrets/ok.yaml']);
    expect(built.skipped).toEqual(['apps/link.yaml']);
  });

  it('round-trips long and non-ASCII names (ustar prefix, PAX) through lib/oci and GNU tar', async () => {
    const names = [
      `${'p'.repeat(80)}/${'q'.repeat(90)}.yaml`, // fits ustar's prefix + name
      `${'r'.repeat(120)}.yaml`, // one long segment: PAX
      'ünïcödé/データ.yaml', // non-ASCII: PAX
    ];
    const dir = await directoryWith(Object.fromEntries(names.map((name, index) => [name, `file ${index}\n`])));
    const { layer } = await buildArtifact(dir, { ...meta, created });
    const files = await extractTarGz(layer);
    names.forEach((name, index) => expect(files.get(name)?.toString()).toBe(`file ${index}\n`));

    const out = await directoryWith({});
    await writeFile(join(out, 'layer.tar.gz'), layer);
    await mkdir(join(out, 'x'));
    await run('tar', ['-xzf', join(out, 'layer.tar.gz'), '-C', join(out, 'x')]);
    const { stdout } = await run('find', ['.', '-type', 'f'], { cwd: join(out, 'x') });
    expect(stdout.trim().split('\n').map((line) => line.slice(2)).sort()).toEqual([...names].sort());
  });

  it('ends the tar with two zero blocks, padded to whole blocks', async () => {
    const { layer } = await buildArtifact(await directoryWith({ 'a.yaml': 'abc' }), { ...meta, created });
    const tar = gunzipSync(layer);
    expect(tar.length % 512).toBe(0);
    expect(tar.subarray(-1024).every((byte) => byte === 0)).toBe(true);
  });
});
