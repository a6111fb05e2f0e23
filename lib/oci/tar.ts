// A minimal ustar writer for reproducible archives: every header carries
// uid/gid 0, no user or group names and a zero mtime, so the bytes depend only
// on paths, modes and contents. Names that ustar cannot hold (too long, or not
// ASCII) get a PAX `path` record, as Go's archive/tar (and so Flux) does.

export const TAR_BLOCK_SIZE = 512;

export type TarEntry =
  | { type: 'directory'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; data: Uint8Array };

const TYPE_FILE = '0';
const TYPE_DIRECTORY = '5';
const TYPE_PAX = 'x';

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  header.write(value, offset, length, 'utf8');
}

/** Octal, zero-padded to length-1 digits and NUL-terminated, like Go's writer. */
function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new RangeError(`tar: ${value} does not fit a ${length}-byte header field`);
  header.write(digits.padStart(length - 1, '0') + '\0', offset, length, 'ascii');
}

function isUstarName(name: string): boolean {
  return /^[\x01-\x7f]*$/.test(name);
}

function toAscii(text: string): string {
  return text.replace(/[^\x01-\x7f]/g, '');
}

/** The first 100 bytes, never ending in a slash (which old readers would take for a directory). */
function truncatedName(name: string): string {
  return name.length <= 100 ? name : name.slice(0, 100).replace(/\/+$/, '');
}

/**
 * Splits a long ASCII name into ustar's prefix (≤155) and name (≤100) fields
 * at the last slash that fits, as Go's archive/tar does; undefined when it cannot.
 */
function splitUstarName(path: string): { prefix: string; name: string } | undefined {
  if (!isUstarName(path)) return undefined;
  if (path.length <= 100) return { prefix: '', name: path };
  const searchEnd = Math.min(path.length, 156);
  const slash = path.lastIndexOf('/', searchEnd - 1);
  const name = path.slice(slash + 1);
  if (slash <= 0 || name.length === 0 || name.length > 100 || slash > 155) return undefined;
  return { prefix: path.slice(0, slash), name };
}

function header(fields: { name: string; prefix: string; mode: number; size: number; type: string }): Buffer {
  const block = Buffer.alloc(TAR_BLOCK_SIZE);
  writeString(block, 0, 100, fields.name);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, 0); // mtime
  block.write(fields.type, 156, 1, 'ascii');
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  if (fields.type !== TYPE_PAX) {
    // Go leaves the device numbers of its PAX header entries empty.
    writeOctal(block, 329, 8, 0); // devmajor
    writeOctal(block, 337, 8, 0); // devminor
  }
  writeString(block, 345, 155, fields.prefix);
  // The checksum is computed with its own field read as eight spaces.
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return block;
}

/** One PAX record: "<length> <key>=<value>\n", where length counts the whole record including itself. */
function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length + bodyLength !== length) length = bodyLength + String(length).length;
  return Buffer.from(`${length}${body}`, 'utf8');
}

function padding(size: number): Buffer {
  const remainder = size % TAR_BLOCK_SIZE;
  return Buffer.alloc(remainder === 0 ? 0 : TAR_BLOCK_SIZE - remainder);
}

/** Header (plus PAX header when needed), content and padding of one entry. */
export function tarEntryBlocks(entry: TarEntry): Buffer[] {
  const size = entry.type === 'file' ? entry.data.byteLength : 0;
  const type = entry.type === 'file' ? TYPE_FILE : TYPE_DIRECTORY;
  const blocks: Buffer[] = [];
  let fields = splitUstarName(entry.path);
  if (!fields) {
    // Go's layout: a `PaxHeaders.0` entry beside the file, and the main header's
    // name as a best-effort ASCII rendering of the path.
    const record = paxRecord('path', entry.path);
    const slash = entry.path.lastIndexOf('/');
    const paxPath = `${entry.path.slice(0, slash + 1)}PaxHeaders.0/${entry.path.slice(slash + 1)}`;
    const paxName = toAscii(paxPath).slice(0, 100).replace(/\/+$/, '');
    blocks.push(header({ name: paxName, prefix: '', mode: 0, size: record.byteLength, type: TYPE_PAX }));
    blocks.push(record, padding(record.byteLength));
    fields = { prefix: '', name: truncatedName(toAscii(entry.path)) };
  }
  blocks.push(header({ ...fields, mode: entry.mode, size, type }));
  if (entry.type === 'file') blocks.push(Buffer.from(entry.data.buffer, entry.data.byteOffset, size), padding(size));
  return blocks;
}

/** The two zero blocks that end an archive. */
export function tarEnd(): Buffer {
  return Buffer.alloc(2 * TAR_BLOCK_SIZE);
}
