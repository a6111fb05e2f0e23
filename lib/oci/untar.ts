// Safe in-memory extraction of an artifact layer (tar.gz) into a map of
// path → content. Nothing touches the file system, so the checks here are the
// whole defence: every limit is enforced while streaming, before the bytes it
// guards are allocated, and anything but plain files and directories with
// clean relative paths is refused.
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { OciError, UnsafeArchiveError, type UnsafeArchiveReason } from './errors.ts';
import { TAR_BLOCK_SIZE } from './tar.ts';

export interface ExtractionLimits {
  /** Regular files in the archive. */
  maxFiles: number;
  /** Bytes of one file. */
  maxFileBytes: number;
  /** Bytes of all files together. */
  maxTotalBytes: number;
  /** Bytes of the tar stream after gunzip (headers, padding and PAX records included). */
  maxDecompressedBytes: number;
}

export const DEFAULT_EXTRACTION_LIMITS: ExtractionLimits = {
  maxFiles: 10_000,
  maxFileBytes: 32 * 1024 * 1024,
  maxTotalBytes: 100 * 1024 * 1024,
  maxDecompressedBytes: 128 * 1024 * 1024,
};

/** PAX records and GNU long names are buffered whole; real ones are tiny. */
const MAX_METADATA_ENTRY_BYTES = 1024 * 1024;
/**
 * Compressed input is fed to zlib in slices this small because one input
 * chunk is inflated in full before backpressure applies: deflate expands at
 * most ~1032:1, so a slice can never become more than about 4 MiB.
 */
const INFLATE_INPUT_SLICE_BYTES = 4 * 1024;

async function* inSlices(source: Uint8Array | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const chunks = source instanceof Uint8Array ? [source] : source;
  for await (const chunk of chunks) {
    for (let offset = 0; offset < chunk.byteLength; offset += INFLATE_INPUT_SLICE_BYTES) {
      yield chunk.subarray(offset, offset + INFLATE_INPUT_SLICE_BYTES);
    }
  }
}

/**
 * Gunzips a stream and throws as soon as the output passes maxBytes: a gzip
 * bomb costs at most maxBytes of work plus one slice, never its full size.
 */
export async function* gunzipLimited(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  maxBytes: number,
): AsyncGenerator<Buffer, void, undefined> {
  const input = Readable.from(inSlices(source));
  const gunzip = createGunzip();
  input.on('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  let total = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > maxBytes) {
        throw new UnsafeArchiveError('decompressed-too-large', `more than ${maxBytes} bytes after gunzip`);
      }
      yield chunk;
    }
  } catch (error) {
    // Our own refusals, and the source's (a digest or size check on the download), pass through.
    if (error instanceof OciError) throw error;
    throw new UnsafeArchiveError('corrupt', `gunzip failed: ${(error as Error).message}`, { cause: error });
  } finally {
    input.destroy();
    gunzip.destroy();
  }
}

/** Exact-size reads over a stream of chunks, without concatenating more than one read needs. */
class ChunkReader {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly iterator: AsyncIterator<Buffer>) {}

  /** Exactly `length` bytes; undefined when the stream ended cleanly before the first byte. */
  async read(length: number): Promise<Buffer | undefined> {
    if (!Number.isSafeInteger(length) || length < 0) throw new UnsafeArchiveError('corrupt', `invalid entry length ${length}`);
    while (this.buffered < length) {
      const next = await this.iterator.next();
      if (next.done) {
        if (this.buffered === 0) return undefined;
        throw new UnsafeArchiveError('corrupt', 'archive ends in the middle of an entry');
      }
      this.chunks.push(next.value);
      this.buffered += next.value.byteLength;
    }
    const joined = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const result = Buffer.from(joined.subarray(0, length)); // a copy, so a file never pins a large chunk
    const rest = joined.subarray(length);
    this.chunks.length = 0;
    if (rest.byteLength > 0) this.chunks.push(rest);
    this.buffered = rest.byteLength;
    return result;
  }

  async readExactly(length: number): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    const data = await this.read(length);
    if (!data) throw new UnsafeArchiveError('corrupt', 'archive ends in the middle of an entry');
    return data;
  }
}

function paddingOf(size: number): number {
  const remainder = size % TAR_BLOCK_SIZE;
  return remainder === 0 ? 0 : TAR_BLOCK_SIZE - remainder;
}

function cString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

/** Octal, or GNU base-256 when the high bit of the first byte is set. */
function numericField(block: Buffer, offset: number, length: number, name: string): number {
  const field = block.subarray(offset, offset + length);
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let value = (field[0] ?? 0) & 0x7f;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    if (!Number.isSafeInteger(value)) throw new UnsafeArchiveError('corrupt', `tar header ${name} is out of range`);
    return value;
  }
  const text = field.toString('ascii').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new UnsafeArchiveError('corrupt', `tar header ${name} is not octal: "${text}"`);
  return parseInt(text, 8);
}

function checksumMatches(block: Buffer): boolean {
  const stored = numericField(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let index = 0; index < TAR_BLOCK_SIZE; index++) {
    const byte = index >= 148 && index < 156 ? 0x20 : (block[index] ?? 0);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte; // some old writers summed signed bytes
  }
  return stored === unsigned || stored === signed;
}

/** PAX extended header records: "<length> <key>=<value>\n". */
function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let offset = 0;
  while (offset < data.byteLength) {
    const space = data.indexOf(0x20, offset);
    const length = space === -1 ? Number.NaN : Number(data.subarray(offset, space).toString('ascii'));
    if (!Number.isSafeInteger(length) || length <= 0 || offset + length > data.byteLength) {
      throw new UnsafeArchiveError('corrupt', 'malformed PAX record');
    }
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals === -1) throw new UnsafeArchiveError('corrupt', 'malformed PAX record');
    records.set(record.slice(0, equals), record.slice(equals + 1));
    offset += length;
  }
  return records;
}

/** A clean relative path (`a/b.yaml`), or undefined for the archive root itself (`.`, `./`). */
function cleanPath(rawPath: string): string | undefined {
  const refuse = (reason: UnsafeArchiveReason, why: string): never => {
    throw new UnsafeArchiveError(reason, `entry ${JSON.stringify(rawPath)} ${why}`);
  };
  if (rawPath.includes('\0')) refuse('invalid-path', 'contains a NUL byte');
  if (rawPath.includes('\\')) refuse('invalid-path', 'contains a backslash');
  if (rawPath.startsWith('/')) refuse('absolute-path', 'is an absolute path');
  const segments = rawPath.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) refuse('parent-segment', 'has a ".." segment');
  return segments.length === 0 ? undefined : segments.join('/');
}

interface PendingMetadata {
  paxPath?: string;
  paxSize?: number;
  longName?: string;
}

/**
 * Extracts a gzipped tar into memory: regular files only, directories are
 * implied by paths. Refuses (with UnsafeArchiveError and a reason) absolute
 * paths, `..` segments, backslashes, duplicate or conflicting paths, symlinks,
 * hardlinks, devices, FIFOs and unknown entry types, and anything over the limits.
 */
export async function extractTarGz(
  gzipped: Uint8Array | AsyncIterable<Uint8Array>,
  limits: Partial<ExtractionLimits> = {},
): Promise<Map<string, Buffer>> {
  const effective: ExtractionLimits = { ...DEFAULT_EXTRACTION_LIMITS, ...limits };
  const stream = gunzipLimited(gzipped, effective.maxDecompressedBytes);
  try {
    return await extractTar(new ChunkReader(stream[Symbol.asyncIterator]()), effective);
  } finally {
    await stream.return(undefined);
  }
}

async function extractTar(reader: ChunkReader, limits: ExtractionLimits): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const directories = new Set<string>();
  let totalBytes = 0;
  let pending: PendingMetadata = {};

  const claimPath = (path: string, isDirectory: boolean) => {
    const segments = path.split('/');
    for (let depth = 1; depth < segments.length; depth++) {
      const parent = segments.slice(0, depth).join('/');
      if (files.has(parent)) throw new UnsafeArchiveError('duplicate-path', `"${path}" is inside "${parent}", which is a file`);
      directories.add(parent);
    }
    if (files.has(path) || (!isDirectory && directories.has(path))) {
      throw new UnsafeArchiveError('duplicate-path', `"${path}" appears more than once`);
    }
    if (isDirectory) directories.add(path);
  };

  while (true) {
    const block = await reader.read(TAR_BLOCK_SIZE);
    // A zero block is the end-of-archive marker; whatever follows is not read (and not inflated).
    if (!block || block.every((byte) => byte === 0)) break;
    if (!checksumMatches(block)) throw new UnsafeArchiveError('corrupt', 'tar header checksum mismatch');

    const typeflag = String.fromCharCode(block[156] ?? 0);
    const headerSize = numericField(block, 124, 12, 'size');
    const isUstar = block.subarray(257, 262).toString('ascii') === 'ustar';
    const prefix = isUstar ? cString(block, 345, 155) : '';
    const headerName = cString(block, 0, 100);
    const rawPath = pending.paxPath ?? pending.longName ?? (prefix ? `${prefix}/${headerName}` : headerName);
    const size = pending.paxSize ?? headerSize;

    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (headerSize > MAX_METADATA_ENTRY_BYTES) {
        throw new UnsafeArchiveError('corrupt', `metadata entry of ${headerSize} bytes is implausibly large`);
      }
      const data = await reader.readExactly(headerSize);
      await reader.readExactly(paddingOf(headerSize));
      if (typeflag === 'x') {
        const records = parsePax(data);
        const paxSize = records.get('size');
        // Decimal digits only, as Go's archive/tar (and so Flux and ORAS) read it: Number() would
        // also take "-5", "", "0x10" or "1e3", and a negative or empty size desynchronises the parser.
        if (paxSize !== undefined && !/^\d{1,15}$/.test(paxSize)) {
          throw new UnsafeArchiveError('corrupt', 'PAX size is not a decimal number');
        }
        pending = {
          ...pending,
          ...(records.has('path') ? { paxPath: records.get('path') } : {}),
          ...(paxSize !== undefined ? { paxSize: Number(paxSize) } : {}),
        };
      } else if (typeflag === 'L') {
        pending = { ...pending, longName: cString(data, 0, data.byteLength) };
      }
      // Global PAX headers ('g') and GNU long link names ('K') carry nothing we use.
      continue;
    }
    pending = {};

    const describe = JSON.stringify(rawPath);
    switch (typeflag) {
      case '1':
        throw new UnsafeArchiveError('hardlink', `entry ${describe} is a hard link`);
      case '2':
        throw new UnsafeArchiveError('symlink', `entry ${describe} is a symbolic link`);
      case '3':
      case '4':
        throw new UnsafeArchiveError('special-file', `entry ${describe} is a device file`);
      case '6':
        throw new UnsafeArchiveError('special-file', `entry ${describe} is a FIFO`);
      case '5': {
        const path = cleanPath(rawPath);
        if (path !== undefined) claimPath(path, true);
        await reader.readExactly(size + paddingOf(size));
        continue;
      }
      case '0':
      case '\0':
      case '7': // contiguous file: a regular file to everyone but a few old Unixes
        break;
      default:
        throw new UnsafeArchiveError('special-file', `entry ${describe} has unsupported type "${typeflag}"`);
    }

    const path = cleanPath(rawPath);
    if (path === undefined) throw new UnsafeArchiveError('invalid-path', `regular file ${describe} names the archive root`);
    if (files.size + 1 > limits.maxFiles) {
      throw new UnsafeArchiveError('too-many-files', `more than ${limits.maxFiles} files`);
    }
    if (size > limits.maxFileBytes) {
      throw new UnsafeArchiveError('file-too-large', `"${path}" has ${size} bytes, more than ${limits.maxFileBytes}`);
    }
    if (totalBytes + size > limits.maxTotalBytes) {
      throw new UnsafeArchiveError('total-too-large', `files add up to more than ${limits.maxTotalBytes} bytes`);
    }
    claimPath(path, false);
    totalBytes += size;
    files.set(path, await reader.readExactly(size));
    await reader.readExactly(paddingOf(size));
  }
  return files;
}
