// OCI references: `host[:port]/path[:tag][@digest]`, the form Flux, ORAS and
// the control plane's `repository` field use. The registry host is required:
// a GitOps tool should never guess Docker Hub from a bare name.
import { InvalidReferenceError } from './errors.ts';

export interface Repository {
  /** host[:port] as written in the reference (lower case). */
  registry: string;
  /** Path inside the registry, e.g. `team/checkout`. */
  name: string;
}

export interface Reference extends Repository {
  tag?: string;
  digest?: string;
}

// The grammar of github.com/distribution/reference.
const HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const MAX_NAME_LENGTH = 255;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

/** Parses `host[:port]/path[:tag][@digest]`; an `oci://` prefix (Flux's URL form) is accepted. */
export function parseReference(input: string): Reference {
  const text = input.startsWith('oci://') ? input.slice('oci://'.length) : input;
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      throw new InvalidReferenceError(`invalid digest "${digest}" in "${input}": expected sha256:<64 hex>`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  // A colon after the last slash is a tag; one before it belongs to host:port.
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(`invalid tag "${tag}" in "${input}"`);
  }
  return { ...parseRepository(rest, input), ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Parses `host[:port]/path` (no tag, no digest). */
export function parseRepository(input: string, original = input): Repository {
  const slash = input.indexOf('/');
  if (slash === -1) {
    throw new InvalidReferenceError(`"${original}" has no registry host: expected host[:port]/path`);
  }
  const registry = input.slice(0, slash).toLowerCase();
  const name = input.slice(slash + 1);
  if (!HOST.test(registry)) throw new InvalidReferenceError(`invalid registry host "${registry}" in "${original}"`);
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || !name.split('/').every((part) => PATH_COMPONENT.test(part))) {
    throw new InvalidReferenceError(
      `invalid repository path "${name}" in "${original}": lowercase letters, digits and . _ - separators only`,
    );
  }
  return { registry, name };
}

export function formatRepository(repository: Repository): string {
  return `${repository.registry}/${repository.name}`;
}

export function formatReference(reference: Reference): string {
  return (
    formatRepository(reference) +
    (reference.tag ? `:${reference.tag}` : '') +
    (reference.digest ? `@${reference.digest}` : '')
  );
}
