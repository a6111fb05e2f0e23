// Cosign signatures of an artifact, found in the registry and verified offline with node:crypto.
//
// Two storage formats, both what cosign writes:
// - Sigstore bundle (cosign v3's default, `--new-bundle-format`): an OCI 1.1 referrer of the
//   artifact's manifest (an image manifest whose `subject` is the artifact, artifactType
//   `application/vnd.dev.sigstore.bundle.v0.3+json`, one layer holding the bundle JSON). The
//   bundle's DSSE envelope carries an in-toto statement whose subject is the signed digest and
//   whose predicate type is cosign's `https://sigstore.dev/cosign/sign/v1`; the signature is over
//   the envelope's pre-authentication encoding (PAE). Registries without the referrers API get the
//   referrers tag schema (`sha256-<hex>`, an index), which is read as well.
// - Classic (`sha256-<hex>.sig` tag): an image manifest whose layers are simple-signing payloads
//   (`critical.image.docker-manifest-digest` names the signed digest), each with its signature in
//   the annotation `dev.cosignproject.cosign/signature`, over the payload's bytes.
//
// A signature counts only when it verifies with the key AND binds the artifact's digest: a valid
// signature copied from another artifact is refused as "for another digest". ECDSA P-256 with
// SHA-256, ASN.1 DER signatures, as cosign's key pairs make. No transparency log is consulted
// (offline, as `cosign verify --insecure-ignore-tlog`): the key is the trust root.
import { verify as verifySignature, type KeyObject } from 'node:crypto';
import type { RegistryClient } from './client.ts';
import { NotFoundError } from './errors.ts';
import { OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, type Descriptor } from './manifest.ts';
import { isDigest, type Repository } from './reference.ts';
import { parseCosignPublicKey } from './cosign-key.ts';

export const SIGSTORE_BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const SIGSTORE_BUNDLE_PREFIX = 'application/vnd.dev.sigstore.bundle';
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1';
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const IN_TOTO_STATEMENT_TYPES = new Set(['https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v0.1']);

/** Bounds on what a hostile registry can make the agent read. */
export const COSIGN_LIMITS = { maxSignatures: 16, maxManifestBytes: 256 * 1024, maxBlobBytes: 256 * 1024 };

/** `sha256:<hex>` → the classic cosign signature tag `sha256-<hex>.sig`. */
export function cosignSignatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** One signature found for a digest, not yet checked. */
export interface CosignSignature {
  format: 'bundle' | 'simple-signing';
  /** Where it was found: the referrer's or signature manifest's digest. */
  source: string;
  /** The bytes the signature is over (the DSSE PAE, or the simple-signing payload). */
  signed: Buffer;
  signature: Buffer;
  /** The digest the signed content names, or null when it names none we can read. */
  subjectDigests: string[];
  /** Why the signed content cannot be a cosign signature of an image (wrong predicate, …), if so. */
  invalid?: string;
}

export type VerificationFailure = 'unsigned' | 'key-mismatch' | 'other-digest' | 'invalid';

export class CosignVerificationError extends Error {
  constructor(
    readonly failure: VerificationFailure,
    message: string,
  ) {
    super(message);
    this.name = 'CosignVerificationError';
  }
}

function decodeBase64(value: unknown): Buffer | null {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return null;
  return Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** DSSE's pre-authentication encoding: what a DSSE signature is over. */
export function dssePae(payloadType: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `), payload]);
}

/** The signatures a Sigstore bundle holds (its DSSE envelope's), with the digests its statement names. */
export function signaturesOfBundle(bytes: Uint8Array, source: string): CosignSignature[] {
  const bundle = parseJson(bytes);
  if (!isObject(bundle) || typeof bundle['mediaType'] !== 'string' || !bundle['mediaType'].startsWith(SIGSTORE_BUNDLE_PREFIX)) return [];
  const envelope = bundle['dsseEnvelope'];
  if (!isObject(envelope)) {
    // A message signature signs a blob's digest, not an image: cosign never stores one for an image.
    return [];
  }
  const payload = decodeBase64(envelope['payload']);
  const payloadType = envelope['payloadType'];
  if (!payload || typeof payloadType !== 'string' || !Array.isArray(envelope['signatures'])) return [];
  const signed = dssePae(payloadType, payload);
  let subjectDigests: string[] = [];
  let invalid: string | undefined;
  const statement = parseJson(payload);
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE || !isObject(statement) || !IN_TOTO_STATEMENT_TYPES.has(String(statement['_type']))) {
    invalid = 'its signed payload is not an in-toto statement';
  } else {
    if (statement['predicateType'] !== COSIGN_SIGN_PREDICATE_TYPE) invalid = `it is an attestation (${String(statement['predicateType'])}), not a cosign signature`;
    const subjects = Array.isArray(statement['subject']) ? statement['subject'] : [];
    subjectDigests = subjects.flatMap((subject) => {
      const sha256 = isObject(subject) && isObject(subject['digest']) ? subject['digest']['sha256'] : undefined;
      return typeof sha256 === 'string' && /^[a-f0-9]{64}$/.test(sha256) ? [`sha256:${sha256}`] : [];
    });
  }
  return envelope['signatures'].slice(0, COSIGN_LIMITS.maxSignatures).flatMap((entry) => {
    const signature = isObject(entry) ? decodeBase64(entry['sig']) : null;
    return signature ? [{ format: 'bundle' as const, source, signed, signature, subjectDigests, ...(invalid ? { invalid } : {}) }] : [];
  });
}

/** The signed digest of a simple-signing payload (`critical.image.docker-manifest-digest`). */
export function simpleSigningSubject(payload: Uint8Array): { digests: string[]; invalid?: string } {
  const value = parseJson(payload);
  const critical = isObject(value) ? value['critical'] : undefined;
  const image = isObject(critical) ? critical['image'] : undefined;
  const digest = isObject(image) ? image['docker-manifest-digest'] : undefined;
  if (typeof digest !== 'string' || !isDigest(digest)) return { digests: [], invalid: 'its payload names no docker-manifest-digest' };
  if (isObject(critical) && critical['type'] !== 'cosign container image signature') {
    return { digests: [digest], invalid: `its payload has type ${String(critical['type'])}, not a cosign container image signature` };
  }
  return { digests: [digest] };
}

async function manifestJson(client: RegistryClient, repository: Repository, digest: string, signal?: AbortSignal): Promise<Record<string, unknown> | null> {
  const response = await client.getManifest(repository, digest, { maxBytes: COSIGN_LIMITS.maxManifestBytes, signal });
  const value = parseJson(response.bytes);
  return isObject(value) ? value : null;
}

async function resolveOptionalTag(client: RegistryClient, repository: Repository, tag: string, signal?: AbortSignal): Promise<Descriptor | null> {
  try {
    return await client.resolveTag(repository, tag, { signal });
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw error;
  }
}

function layersOf(manifest: Record<string, unknown> | null): Descriptor[] {
  const layers = manifest?.['layers'];
  return Array.isArray(layers)
    ? (layers as Descriptor[]).filter((layer) => isObject(layer) && typeof layer.digest === 'string' && isDigest(layer.digest) && typeof layer.mediaType === 'string')
    : [];
}

/** Bundles attached to `digest` as referrers (or, without a referrers API, in the `sha256-<hex>` index). */
async function bundleSignatures(client: RegistryClient, repository: Repository, digest: string, signal?: AbortSignal): Promise<CosignSignature[]> {
  let referrers = await client.listReferrers(repository, digest, { artifactType: SIGSTORE_BUNDLE_ARTIFACT_TYPE, signal });
  if (referrers === null) {
    const fallback = await resolveOptionalTag(client, repository, digest.replace(':', '-'), signal);
    const index = fallback ? await manifestJson(client, repository, fallback.digest, signal) : null;
    referrers = index && index['mediaType'] === OCI_INDEX_MEDIA_TYPE && Array.isArray(index['manifests']) ? (index['manifests'] as Descriptor[]) : [];
  }
  // A registry may ignore the filter: keep only bundles, and only so many.
  const bundles = referrers
    .filter((entry) => isObject(entry) && typeof entry.digest === 'string' && isDigest(entry.digest) && typeof entry.artifactType === 'string' && entry.artifactType.startsWith(SIGSTORE_BUNDLE_PREFIX))
    .slice(0, COSIGN_LIMITS.maxSignatures);
  const found: CosignSignature[] = [];
  for (const referrer of bundles) {
    const manifest = await manifestJson(client, repository, referrer.digest, signal);
    if (manifest?.['mediaType'] !== undefined && manifest['mediaType'] !== OCI_MANIFEST_MEDIA_TYPE) continue;
    for (const layer of layersOf(manifest).filter((candidate) => candidate.mediaType.startsWith(SIGSTORE_BUNDLE_PREFIX)).slice(0, 1)) {
      const bytes = await client.getBlob(repository, layer, { maxBytes: COSIGN_LIMITS.maxBlobBytes, signal });
      found.push(...signaturesOfBundle(bytes, referrer.digest));
    }
  }
  return found;
}

/** Simple-signing payloads under the classic `sha256-<hex>.sig` tag. */
async function classicSignatures(client: RegistryClient, repository: Repository, digest: string, signal?: AbortSignal): Promise<CosignSignature[]> {
  const tagged = await resolveOptionalTag(client, repository, cosignSignatureTag(digest), signal);
  if (!tagged) return [];
  const manifest = await manifestJson(client, repository, tagged.digest, signal);
  const found: CosignSignature[] = [];
  for (const layer of layersOf(manifest).slice(0, COSIGN_LIMITS.maxSignatures)) {
    const signature = decodeBase64(layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION]);
    if (!signature || layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) continue;
    const payload = await client.getBlob(repository, layer, { maxBytes: COSIGN_LIMITS.maxBlobBytes, signal });
    const subject = simpleSigningSubject(payload);
    found.push({ format: 'simple-signing', source: tagged.digest, signed: payload, signature, subjectDigests: subject.digests, ...(subject.invalid ? { invalid: subject.invalid } : {}) });
  }
  return found;
}

/** Every cosign signature stored for `digest` in `repository`, both formats; throws OciError when the registry fails. */
export async function findCosignSignatures(
  client: RegistryClient,
  repository: Repository,
  digest: string,
  options: { signal?: AbortSignal } = {},
): Promise<CosignSignature[]> {
  const bundles = await bundleSignatures(client, repository, digest, options.signal);
  const classic = await classicSignatures(client, repository, digest, options.signal);
  return [...bundles, ...classic];
}

function signatureVerifies(key: KeyObject, signature: CosignSignature): boolean {
  try {
    return verifySignature('sha256', signature.signed, { key, dsaEncoding: 'der' }, signature.signature);
  } catch {
    return false;
  }
}

/**
 * Succeeds when one of `signatures` verifies with `publicKey` and binds `digest`; otherwise throws
 * CosignVerificationError naming the first thing that failed in this order: no signature at all,
 * no signature by this key, a signature by this key for another digest (or of another kind).
 */
export function verifyCosignSignatures(signatures: CosignSignature[], digest: string, publicKey: string | KeyObject, keyName = 'the key'): CosignSignature {
  const key = typeof publicKey === 'string' ? parseCosignPublicKey(publicKey) : publicKey;
  if (signatures.length === 0) throw new CosignVerificationError('unsigned', `no cosign signature for ${digest}`);
  const byKey = signatures.filter((signature) => signatureVerifies(key, signature));
  if (byKey.length === 0) {
    throw new CosignVerificationError('key-mismatch', `signature does not match ${keyName} (${signatures.length} cosign signature(s) for ${digest}, none by ${keyName})`);
  }
  const valid = byKey.find((signature) => !signature.invalid && signature.subjectDigests.includes(digest));
  if (valid) return valid;
  const bound = byKey.find((signature) => signature.subjectDigests.includes(digest));
  if (bound) throw new CosignVerificationError('invalid', `signature by ${keyName} is not a cosign image signature: ${bound.invalid}`);
  const other = byKey.find((signature) => signature.subjectDigests.length > 0)?.subjectDigests[0];
  if (other) throw new CosignVerificationError('other-digest', `signature is for another digest: signed ${other}, the artifact is ${digest}`);
  throw new CosignVerificationError('invalid', `signature by ${keyName} names no digest: ${byKey[0]!.invalid ?? 'unreadable payload'}`);
}

/** Finds and verifies: one valid signature for `digest` per key, or CosignVerificationError. */
export async function verifyCosign(
  client: RegistryClient,
  repository: Repository,
  digest: string,
  keys: { name: string; publicKey: string }[],
  options: { signal?: AbortSignal } = {},
): Promise<CosignSignature[]> {
  // Keys first: one that cannot be parsed fails before any request, whatever the registry says.
  const parsed = keys.map((key) => ({ name: key.name, key: parseCosignPublicKey(key.publicKey) }));
  const signatures = await findCosignSignatures(client, repository, digest, options);
  return parsed.map((key) => verifyCosignSignatures(signatures, digest, key.key, key.name));
}
