// Content digests (`sha256:<hex>`): computed in one go for what we build, and
// incrementally for what we download, so a blob is checked without buffering it twice.
import { createHash, type Hash } from 'node:crypto';
import { DigestMismatchError, InvalidReferenceError, TooLargeError } from './errors.ts';
import { isDigest } from './reference.ts';

function algorithmOf(digest: string): 'sha256' | 'sha512' {
  if (!isDigest(digest)) throw new InvalidReferenceError(`unsupported or malformed digest "${digest}"`);
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function digestOf(data: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Throws DigestMismatchError unless `data` hashes to `expected` (whose algorithm it uses). */
export function verifyDigest(what: string, data: Uint8Array, expected: string): void {
  const actual = digestOf(data, algorithmOf(expected));
  if (actual !== expected) throw new DigestMismatchError(what, expected, actual);
}

/**
 * Hashes and counts a stream of chunks; refuses more than `maxBytes` (or more
 * than the size the manifest declared) as soon as the limit is crossed.
 */
export class DigestVerifier {
  private readonly hash: Hash;
  private readonly algorithm: 'sha256' | 'sha512';
  private bytes = 0;

  constructor(
    private readonly what: string,
    private readonly expectedDigest: string,
    private readonly limits: { maxBytes: number; expectedSize?: number },
  ) {
    this.algorithm = algorithmOf(expectedDigest);
    this.hash = createHash(this.algorithm);
  }

  update(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    if (this.bytes > this.limits.maxBytes) throw new TooLargeError(this.what, this.limits.maxBytes);
    const { expectedSize } = this.limits;
    if (expectedSize !== undefined && this.bytes > expectedSize) {
      throw new DigestMismatchError(`${this.what} size`, `${expectedSize} bytes`, `more than ${expectedSize} bytes`);
    }
    this.hash.update(chunk);
  }

  /** Call after the last chunk. */
  verify(): void {
    const { expectedSize } = this.limits;
    if (expectedSize !== undefined && this.bytes !== expectedSize) {
      throw new DigestMismatchError(`${this.what} size`, `${expectedSize} bytes`, `${this.bytes} bytes`);
    }
    const actual = `${this.algorithm}:${this.hash.digest('hex')}`;
    if (actual !== this.expectedDigest) throw new DigestMismatchError(this.what, this.expectedDigest, actual);
  }
}
