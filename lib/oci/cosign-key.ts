// Cosign public keys: what `cosign generate-key-pair` writes to cosign.pub, an ECDSA P-256 key as a
// PEM "PUBLIC KEY" (SubjectPublicKeyInfo). Parsed with node:crypto; shared by the API (which
// refuses anything else with a 400) and the agent (which verifies signatures with it).
import { createPublicKey, type KeyObject } from 'node:crypto';

/** A PEM public key is a few hundred characters; this bounds what the API stores per key. */
export const MAX_COSIGN_PUBLIC_KEY_CHARS = 4096;

const PEM = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\r?\n?$/;

export class CosignKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CosignKeyError';
  }
}

/**
 * The key object of a cosign public key, or CosignKeyError saying why not: not PEM, not a public
 * key, not ECDSA, or another curve than P-256 (the only one `cosign generate-key-pair` makes).
 */
export function parseCosignPublicKey(pem: string): KeyObject {
  if (pem.length > MAX_COSIGN_PUBLIC_KEY_CHARS) throw new CosignKeyError(`is longer than ${MAX_COSIGN_PUBLIC_KEY_CHARS} characters`);
  const text = pem.trim() + '\n';
  if (!PEM.test(text)) throw new CosignKeyError('must be a PEM public key (-----BEGIN PUBLIC KEY-----), as cosign generate-key-pair writes to cosign.pub');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw new CosignKeyError('is not a valid PEM public key');
  }
  if (key.asymmetricKeyType !== 'ec') throw new CosignKeyError(`must be an ECDSA P-256 key, not ${key.asymmetricKeyType ?? 'an unknown type'}`);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (curve !== 'prime256v1') throw new CosignKeyError(`must be an ECDSA P-256 key, not curve ${curve ?? 'unknown'}`);
  return key;
}

/** The key in canonical form (SPKI PEM, LF line ends), what the control plane stores. */
export function canonicalCosignPublicKey(pem: string): string {
  return parseCosignPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString();
}
