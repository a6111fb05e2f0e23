// Signature verification: before the agent pulls a layer of an app's artifact, the artifact's
// manifest digest must carry a valid cosign signature by every key the app requires (the app's,
// and its environment's). Signatures are read from the app's repository (lib/oci/cosign.ts reads
// both formats cosign writes) and checked offline with node:crypto.
import type { DesiredApp } from '../lib/api/schemas.ts';
import type { RegistryClient } from '../lib/oci/client.ts';
import { CosignVerificationError, verifyCosign } from '../lib/oci/cosign.ts';
import { CosignKeyError } from '../lib/oci/cosign-key.ts';
import { parseRepository } from '../lib/oci/reference.ts';
import { FetchError, toFetchError } from './artifact.ts';

export interface RequiredKey {
  /** How messages name the key: "the app's key", "the environment's key". */
  name: string;
  publicKey: string;
}

/** Resolves when `repository@digest` is signed by every key; throws FetchError (VerificationFailed, or the registry's failure). */
export type SignatureVerifier = (repository: string, digest: string, keys: RequiredKey[]) => Promise<void>;

const VERIFY_TIMEOUT_MS = 60_000;

/** The keys a desired app requires, named for messages; empty when it requires none. */
export function requiredKeys(app: DesiredApp): RequiredKey[] {
  return (app.verify?.keys ?? []).map((key) => ({ name: key.from === 'app' ? "the app's key" : "the environment's key", publicKey: key.publicKey }));
}

export function registryVerifier(client: RegistryClient, timeoutMs = VERIFY_TIMEOUT_MS): SignatureVerifier {
  return async (repository, digest, keys) => {
    try {
      await verifyCosign(client, parseRepository(repository), digest, keys, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      if (error instanceof CosignVerificationError) {
        // An unsigned artifact may be signed a moment later (CI signs after publishing): retry it
        // with the registry backoff. A signature by another key or for another digest stays bad.
        throw new FetchError('VerificationFailed', error.message, error.failure === 'unsigned');
      }
      // A required key the agent cannot parse (the API refuses them; an older row may not be): no
      // retry makes it verify, and it is no registry outage.
      if (error instanceof CosignKeyError) throw new FetchError('VerificationFailed', `a required key ${error.message}`, false);
      if (error instanceof FetchError) throw error;
      throw toFetchError(error);
    }
  };
}
