import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsafeArchiveError, type UnsafeArchiveReason } from './errors.ts';
import { extractTarGz, gunzipLimited } from './untar.ts';

const run = promisify(execFile);

// Hostile archives are assembled here byte by byte, independently of lib/oci's own tar writer,
// so a bug there cannot hide one in the reader.
interface RawEntry {
  name: string;
  type?: string;
  content?: Buffer | string;
  /** Size written in the header when it differs from the content (for streamed bombs). */
  size?: number;
  linkName?: string;
  prefix?: string;
}

function rawHeader(entry: RawEntry): Buffer {
  const content = Buffer.from(entry.content ?? '');
  const header = Buffer.alloc(512);
  header.write(entry.name, 0, 100, 'utf8');
  header.write('0000644\0', 100, 'ascii');
  header.write('0000000\0', 108, 'ascii');
  header.write('0000000\0', 116, 'ascii');
  header.write((entry.size ?? content.length).toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  header.write('00000000000\0', 136, 'ascii');
  header.write(entry.type ?? '0', 156, 'ascii');
  header.write(entry.linkName ?? '', 157, 100, 'utf8');
  header.write('ustar\0' + '00', 257, 'ascii');
  header.write(entry.prefix ?? '', 345, 155, 'utf8');
  header.fill(' ', 148, 156);
  const sum = header.reduce((total, byte) => total + byte, 0);
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return header;
}

function rawEntry(entry: RawEntry): Buffer {
  const content = Buffer.from(entry.content ?? '');
  return Buffer.concat([rawHeader(entry), content, Buffer.alloc((512 - (content.length % 512)) % 512)]);
}

function paxEntry(records: Record<string, string>): Buffer {
  const body = Object.entries(records)
    .map(([key, value]) => {
      const tail = ` ${key}=${value}\n`;
      let length = Buffer.byteLength(tail) + 1;
      while (String(length).length + Buffer.byteLength(tail) !== length) length++;
      return `${length}${tail}`;
    })
    .join('');
  return rawEntry({ name: 'PaxHeaders/x', type: 'x', content: body });
}

function tarGz(...entries: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]));
}

async function refusal(archive: Parameters<typeof extractTarGz>[0], limits?: Parameters<typeof extractTarGz>[1]) {
  const error = await extractTarGz(archive, limits).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(UnsafeArchiveError);
  return error as UnsafeArchiveError;
}

async function expectRefused(reason: UnsafeArchiveReason, archive: Buffer, limits?: Parameters<typeof extractTarGz>[1]) {
  const error = await refusal(archive, limits);
  expect(error.reason).toBe(reason);
  expect(error.code).toBe('unsafe-archive');
  return error;
}

/** gzip of a stream of zeros (optionally after a prefix) without ever holding the zeros in memory. */
async function gzipOfZeros(zeroBytes: number, prefix: Buffer = Buffer.alloc(0)): Promise<Buffer> {
  const block = Buffer.alloc(1024 * 1024);
  async function* source() {
    yield prefix;
    for (let written = 0; written < zeroBytes; written += block.length) {
      yield block.subarray(0, Math.min(block.length, zeroBytes - written));
    }
  }
  const compressed: Buffer[] = [];
  await pipeline(Readable.from(source()), createGzip({ level: 9 }), async (gzipped: AsyncIterable<Buffer>) => {
    for await (const chunk of gzipped) compressed.push(chunk);
  });
  return Buffer.concat(compressed);
}

describe('extractTarGz', () => {
  it.each(['-3584', '', '0x10', '1e3', ' 12 '])('refuses a PAX size of %j, which Go\'s archive/tar refuses too', async (size) => {
    const inner = rawEntry({ name: 'smuggled.yaml', content: 'kind: Secret\n' });
    const archive = tarGz(paxEntry({ size }), rawEntry({ name: 'outer.yaml', content: inner }), rawEntry({ name: 'b.yaml', content: 'b' }));
    await expectRefused('corrupt', archive, { maxFileBytes: 1000, maxTotalBytes: 2000 });
  });

  it('returns regular files by clean relative path; directories are implied', async () => {
    const files = await extractTarGz(
      tarGz(
        rawEntry({ name: './', type: '5' }),
        rawEntry({ name: './apps/', type: '5' }),
        rawEntry({ name: './apps/web.yaml', content: 'kind: Deployment\n' }),
        rawEntry({ name: 'empty.yaml', content: '' }),
        rawEntry({ name: 'long-name.yaml', prefix: 'deeply/nested', content: 'x' }),
      ),
    );
    expect([...files.keys()]).toEqual(['apps/web.yaml', 'empty.yaml', 'deeply/nested/long-name.yaml']);
    expect(files.get('apps/web.yaml')?.toString()).toBe('kind: Deployment\n');
    expect(files.get('empty.yaml')?.length).toBe(0);
  });

  describe('archives written by GNU tar', () => {
    let dir: string;
    const longName = `${'d'.repeat(120)}/${'f'.repeat(150)}.yaml`;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'flotilla-untar-'));
      await mkdir(join(dir, 'src', 'd'.repeat(120)), { recursive: true });
      await writeFile(join(dir, 'src', longName), 'long\n');
      await writeFile(join(dir, 'src', 'ünïcödé.yaml'), 'unicode\n');
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    it.each(['gnu', 'pax', 'ustar'])('reads the %s format (long names, non-ASCII names)', async (format) => {
      const archive = join(dir, `${format}.tar.gz`);
      // ustar cannot hold a 150-character base name: GNU tar refuses that entry, the rest must still read.
      await run('tar', [`--format=${format}`, '-czf', archive, '-C', join(dir, 'src'), '.']).catch(() => undefined);
      const files = await extractTarGz(await readFile(archive));
      expect(files.get('ünïcödé.yaml')?.toString()).toBe('unicode\n');
      if (format !== 'ustar') expect(files.get(longName)?.toString()).toBe('long\n');
    });
  });

  it.each([
    ['absolute-path', '/etc/passwd'],
    ['parent-segment', '../x'],
    ['parent-segment', 'a/../../x'],
    ['parent-segment', 'a/..'],
    ['invalid-path', 'a\\..\\x'],
  ] as const)('refuses (%s) an entry named %j', async (reason, name) => {
    const error = await expectRefused(reason, tarGz(rawEntry({ name, content: 'pwned' })));
    expect(error.message).toContain(JSON.stringify(name));
  });

  it('checks the path a PAX record gives, not the header name it overrides', async () => {
    await expectRefused('parent-segment', tarGz(paxEntry({ path: '../../evil.yaml' }), rawEntry({ name: 'harmless.yaml', content: 'x' })));
  });

  it('checks the path a GNU long name gives', async () => {
    const longName = rawEntry({ name: '././@LongLink', type: 'L', content: `/tmp/${'x'.repeat(200)}\0` });
    await expectRefused('absolute-path', tarGz(longName, rawEntry({ name: 'harmless.yaml', content: 'x' })));
  });

  it.each([
    ['symlink', '2'],
    ['hardlink', '1'],
    ['special-file', '3'], // character device
    ['special-file', '4'], // block device
    ['special-file', '6'], // FIFO
    ['special-file', 'S'], // GNU sparse file
  ] as const)('refuses (%s) an entry of type %s', async (reason, type) => {
    await expectRefused(reason, tarGz(rawEntry({ name: 'ok.yaml', content: 'a' }), rawEntry({ name: 'link', type, linkName: '/etc/shadow' })));
  });

  it('refuses a path that appears twice, and a file that is also a directory', async () => {
    await expectRefused('duplicate-path', tarGz(rawEntry({ name: 'a.yaml', content: '1' }), rawEntry({ name: './a.yaml', content: '2' })));
    await expectRefused('duplicate-path', tarGz(rawEntry({ name: 'a', content: '1' }), rawEntry({ name: 'a/b.yaml', content: '2' })));
    await expectRefused('duplicate-path', tarGz(rawEntry({ name: 'a/b.yaml', content: '1' }), rawEntry({ name: 'a', content: '2' })));
  });

  it('refuses more files than maxFiles', async () => {
    const entries = Array.from({ length: 11 }, (_, index) => rawEntry({ name: `f${index}.yaml`, content: 'x' }));
    const error = await expectRefused('too-many-files', tarGz(...entries), { maxFiles: 10 });
    expect(error.message).toContain('more than 10 files');
    expect((await extractTarGz(tarGz(...entries.slice(0, 10)), { maxFiles: 10 })).size).toBe(10);
  });

  it('refuses a file over maxFileBytes and files adding up to more than maxTotalBytes', async () => {
    await expectRefused('file-too-large', tarGz(rawEntry({ name: 'big.yaml', content: Buffer.alloc(2000) })), { maxFileBytes: 1999 });
    const twoFiles = tarGz(rawEntry({ name: 'a.yaml', content: Buffer.alloc(600) }), rawEntry({ name: 'b.yaml', content: Buffer.alloc(600) }));
    await expectRefused('total-too-large', twoFiles, { maxTotalBytes: 1000 });
    expect((await extractTarGz(twoFiles, { maxTotalBytes: 1200 })).size).toBe(2);
  });

  describe('a gzip bomb: one file of 400 MiB of zeros', () => {
    const bombBytes = 400 * 1024 * 1024;
    let compressed: Buffer;

    beforeAll(async () => {
      compressed = await gzipOfZeros(bombBytes, rawHeader({ name: 'bomb.yaml', size: bombBytes }));
    });

    it('is refused from its header with the default limits', async () => {
      const error = await expectRefused('file-too-large', compressed);
      expect(error.message).toContain(`${bombBytes} bytes`);
    });

    it('is cut off at maxDecompressedBytes, having read only the start of the compressed stream', async () => {
      let compressedBytesRead = 0;
      async function* countingSource() {
        for (let offset = 0; offset < compressed.length; offset += 16 * 1024) {
          const slice = compressed.subarray(offset, offset + 16 * 1024);
          compressedBytesRead += slice.length;
          yield slice;
        }
      }
      const limits = { maxFileBytes: bombBytes, maxTotalBytes: bombBytes, maxDecompressedBytes: 8 * 1024 * 1024 };
      const error = await refusal(countingSource(), limits);
      expect(error.reason).toBe('decompressed-too-large');
      expect(compressedBytesRead).toBeLessThan(compressed.length / 4);
    });
  });

  it('refuses what is not a gzipped tar, a bad checksum and a truncated archive as corrupt', async () => {
    await expectRefused('corrupt', Buffer.from('not gzip at all'));
    const badChecksum = rawEntry({ name: 'a.yaml', content: 'x' });
    badChecksum.write('0000000\0', 148, 'ascii');
    await expectRefused('corrupt', tarGz(badChecksum));
    const truncated = gzipSync(rawEntry({ name: 'a.yaml', content: Buffer.alloc(4000) }).subarray(0, 1500));
    await expectRefused('corrupt', truncated);
  });
});

describe('gunzipLimited', () => {
  it('streams up to the limit and refuses one byte more', async () => {
    const data = gzipSync(Buffer.alloc(100_000, 7));
    const chunks: Buffer[] = [];
    for await (const chunk of gunzipLimited(data, 100_000)) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(Buffer.alloc(100_000, 7))).toBe(true);
    const consume = async () => {
      for await (const chunk of gunzipLimited(data, 99_999)) void chunk;
    };
    await expect(consume()).rejects.toMatchObject({ code: 'unsafe-archive', reason: 'decompressed-too-large' });
  });
});
