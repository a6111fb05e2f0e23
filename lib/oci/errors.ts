// One error class for everything lib/oci refuses, with a closed set of codes
// the agent and CLI can branch on (and map to their own reasons) without
// parsing messages.

export type OciErrorCode =
  | 'invalid-reference'
  | 'unauthorized'
  | 'not-found'
  | 'digest-mismatch'
  | 'too-large'
  | 'invalid-manifest'
  | 'unsafe-archive'
  | 'registry-error'
  | 'network-error';

export class OciError extends Error {
  readonly code: OciErrorCode;

  constructor(code: OciErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OciError';
    this.code = code;
  }
}

export class InvalidReferenceError extends OciError {
  constructor(message: string) {
    super('invalid-reference', message);
    this.name = 'InvalidReferenceError';
  }
}

/** 401 or 403 from the registry or its token service, after the credentials we have were tried. */
export class UnauthorizedError extends OciError {
  readonly status: number;

  constructor(message: string, status: number) {
    super('unauthorized', message);
    this.name = 'UnauthorizedError';
    this.status = status;
  }
}

export class NotFoundError extends OciError {
  constructor(message: string) {
    super('not-found', message);
    this.name = 'NotFoundError';
  }
}

export class DigestMismatchError extends OciError {
  readonly expected: string;
  readonly actual: string;

  constructor(what: string, expected: string, actual: string) {
    super('digest-mismatch', `${what}: expected ${expected}, got ${actual}`);
    this.name = 'DigestMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

/** A blob, manifest or declared size over the caller's limit; raised before or while reading, never after buffering it all. */
export class TooLargeError extends OciError {
  readonly limit: number;

  constructor(what: string, limit: number) {
    super('too-large', `${what} exceeds the limit of ${limit} bytes`);
    this.name = 'TooLargeError';
    this.limit = limit;
  }
}

export class InvalidManifestError extends OciError {
  constructor(message: string) {
    super('invalid-manifest', message);
    this.name = 'InvalidManifestError';
  }
}

export type UnsafeArchiveReason =
  | 'absolute-path'
  | 'parent-segment'
  | 'invalid-path'
  | 'duplicate-path'
  | 'symlink'
  | 'hardlink'
  | 'special-file'
  | 'too-many-files'
  | 'file-too-large'
  | 'total-too-large'
  | 'decompressed-too-large'
  | 'corrupt';

/** An artifact layer that lib/oci refuses to unpack; `reason` says which rule it broke. */
export class UnsafeArchiveError extends OciError {
  readonly reason: UnsafeArchiveReason;

  constructor(reason: UnsafeArchiveReason, message: string, options?: { cause?: unknown }) {
    super('unsafe-archive', `unsafe archive (${reason}): ${message}`, options);
    this.name = 'UnsafeArchiveError';
    this.reason = reason;
  }
}

/** Any other registry answer: a status we do not expect, with the registry's own error codes when it sent them. */
export class RegistryError extends OciError {
  readonly status: number;
  readonly registryCodes: string[];

  constructor(message: string, status: number, registryCodes: string[] = []) {
    super('registry-error', message);
    this.name = 'RegistryError';
    this.status = status;
    this.registryCodes = registryCodes;
  }
}

/** The registry could not be reached (after retries). */
export class NetworkError extends OciError {
  constructor(message: string, cause: unknown) {
    super('network-error', message, { cause });
    this.name = 'NetworkError';
  }
}
