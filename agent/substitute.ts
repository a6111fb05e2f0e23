// Variable substitution in the built objects, as Flux's kustomize-controller does it after its build
// (postBuild.substitute, drone/envsubst style): every key and string of each object has `${var}`
// replaced; a reference the artifact wrote as a plain YAML scalar takes the YAML type of its
// result, as in Flux (see SUBSTITUTION_SCHEMA). Values come from the desired state (the
// cluster's own, its environment's and its own values, resolved by the control plane) and, above
// those, from Secrets in the agent's namespace the app names (`valuesFrom`), which never leave the
// cluster and are masked in what the agent reports.
//
//   ${var}                 the value; strict: a variable without a value fails the app
//   ${var:=default}        the default when var is unset or empty (also ${var:-default})
//   ${var=default}         the default when var is unset (also ${var-default})
//   $${var}                a literal ${var} (the escape for shell text, kustomize-controller#398)
//   $var, $$, a lone $     left as they are
//
// Substituted values (and defaults) are inserted as they are, never expanded again. A value's
// newlines are removed, as Flux does, so a value cannot add lines to the YAML. An object labelled or
// annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` (or `app.flotilla.dev/substitute:
// disabled`) is left as it is.
import { CORE_SCHEMA, NOT_RESOLVED, defineMappingTag, defineScalarTag, load, mapTag } from 'js-yaml';
import type { DesiredApp } from '../lib/api/schemas.ts';
import { LIMITS, VARIABLE_NAME } from '../lib/limits.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';

export const SUBSTITUTE_OPT_OUT_KEYS = ['kustomize.toolkit.fluxcd.io/substitute', 'app.flotilla.dev/substitute'] as const;
export const SUBSTITUTE_DISABLED = 'disabled';

export class SubstitutionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubstitutionError';
  }
}

/** One app's variables on this cluster, and which of their values came from Secrets (to mask). */
export interface AppVariables {
  values: Map<string, string>;
  secretValues: string[];
}

/** `Kind/namespace/name`, or `Kind/name`, as drift entries name objects. */
export function subjectOf(object: KubeObject): string {
  const meta = object.metadata ?? ({} as KubeObject['metadata']);
  return [object.kind ?? '?', meta.namespace, meta.name ?? '?'].filter((part) => part !== undefined && part !== '').join('/');
}

/** Where an expression starts and what it is, cut for a message. */
const excerpt = (text: string, at: number) => {
  const shown = text.slice(at, at + 48).split('\n')[0]!;
  return at + 48 < text.length && !shown.includes('}') ? `${shown}…` : shown;
};

const EXPRESSION = /^([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-=])([^]*))?$/;

/**
 * Substitutes the variable references of `text`. Throws a SubstitutionError naming every variable
 * without a value (strict), a reference that is not one of the forms above, or an output past
 * `maxChars`.
 */
export function substituteText(text: string, values: ReadonlyMap<string, string>, maxChars: number = LIMITS.maxSubstitutedObjectBytes, unset?: string[]): string {
  const parts: string[] = [];
  let size = 0;
  const emit = (part: string) => {
    size += part.length;
    if (size > maxChars) throw new SubstitutionError(`more than ${maxChars} characters after substitution`);
    parts.push(part);
  };
  const missing = unset ?? [];
  let last = 0;
  let at = text.indexOf('$');
  while (at !== -1) {
    if (text[at + 1] === '$' && text[at + 2] === '{') {
      // The escape: `$${` is a literal `${`, and what follows it is plain text.
      emit(text.slice(last, at) + '${');
      last = at + 3;
      at = text.indexOf('$', last);
      continue;
    }
    if (text[at + 1] !== '{') {
      at = text.indexOf('$', at + 1);
      continue;
    }
    const close = text.indexOf('}', at + 2);
    const match = close === -1 ? null : EXPRESSION.exec(text.slice(at + 2, close));
    if (!match) {
      throw new SubstitutionError(
        `"${excerpt(text, at)}" is not a variable reference (\${name}, \${name:=default}); write $\${ for a literal \${, or annotate the object ${SUBSTITUTE_OPT_OUT_KEYS[0]}: ${SUBSTITUTE_DISABLED}`,
      );
    }
    const [, name, operator, fallback] = match as unknown as [string, string, string | undefined, string | undefined];
    const value = values.get(name);
    let replacement: string | undefined;
    if (operator === undefined) replacement = value;
    else if (operator.startsWith(':')) replacement = value === undefined || value === '' ? fallback : value;
    else replacement = value === undefined ? fallback : value;
    if (replacement === undefined) {
      if (!missing.includes(name)) missing.push(name);
      replacement = '';
    }
    emit(text.slice(last, at));
    emit(replacement);
    last = close + 1;
    at = text.indexOf('$', last);
  }
  if (!unset) throwUnset(missing);
  emit(text.slice(last));
  return parts.join('');
}

/**
 * What the artifact's YAML said as a plain (unquoted) scalar holding a reference, e.g.
 * `replicas: ${replicas}`: the build keeps it as a boxed String, so that after substitution it takes
 * the YAML type of its text (3, true), as in Flux, where the build's YAML keeps its quoting; a
 * quoted `"${port}"` is a plain string and stays one. buildObjects parses with this schema.
 */
const keyOf = (key: unknown) => (key instanceof String ? key.valueOf() : key);
export const SUBSTITUTION_SCHEMA = CORE_SCHEMA.withTags(
  defineScalarTag('tag:flotilla.dev,2026:plain-reference', {
    implicit: true,
    implicitFirstChars: ['$'],
    resolve: (source) => (source.includes('${') ? new String(source) : NOT_RESOLVED),
    identify: () => false,
  }),
  // Keys are text whatever they say: a plain `${key}:` stays a string key.
  defineMappingTag(mapTag.tagName, {
    create: mapTag.create,
    addPair: (carrier, key, value) => mapTag.addPair(carrier, keyOf(key), value),
    has: (carrier, key) => mapTag.has(carrier, keyOf(key)),
    keys: mapTag.keys,
    get: (result, key) => mapTag.get(result, keyOf(key)),
    identify: mapTag.identify,
    represent: mapTag.represent,
  }),
);

/** Strict: the variables without a value and without a default, named. */
function throwUnset(missing: string[]): void {
  if (missing.length === 0) return;
  throw new SubstitutionError(`variable${missing.length > 1 ? 's' : ''} ${missing.map((name) => `\${${name}}`).join(', ')} ${missing.length > 1 ? 'have' : 'has'} no value and no default`);
}

/** Whether any key or string of `value` holds a `${` (nothing else can change). */
function hasReference(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('${');
  if (value instanceof String) return true;
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(hasReference);
  return Object.entries(value).some(([key, child]) => key.includes('${') || hasReference(child));
}

/** `value` with its boxed plain scalars (see SUBSTITUTION_SCHEMA) as the strings they are. */
function unboxed(value: unknown): unknown {
  if (value instanceof String) return value.valueOf();
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(unboxed);
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, unboxed(child)]));
}

function hasBoxed(value: unknown): boolean {
  if (value instanceof String) return true;
  if (value === null || typeof value !== 'object') return false;
  return (Array.isArray(value) ? value : Object.values(value)).some(hasBoxed);
}

/** The object as built, without substitution (the app or the object opted out). */
export function unboxObject(object: KubeObject): KubeObject {
  return hasBoxed(object) ? (unboxed(object) as KubeObject) : object;
}

/** A substituted plain scalar read as YAML reads it: a number, a boolean or null; else the text. */
function plainScalar(text: string): unknown {
  if (text === '') return null;
  if (!/^[-+.~0-9a-zA-Z_]+$/.test(text)) return text;
  try {
    const value = load(text, { schema: CORE_SCHEMA });
    // .inf and .nan stay text: JSON has no such number (it would send null).
    return value === undefined ? null : (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean' || value === null ? value : text;
  } catch {
    return text;
  }
}

export function substitutionDisabled(object: KubeObject): boolean {
  const { labels, annotations } = object.metadata ?? {};
  return SUBSTITUTE_OPT_OUT_KEYS.some((key) => String(labels?.[key]) === SUBSTITUTE_DISABLED || String(annotations?.[key]) === SUBSTITUTE_DISABLED);
}

/**
 * One object substituted: every key and string (its serialized form, scalar by scalar, so a value
 * lands inside the scalar its reference stands in and can never add fields or lines). The result
 * must still be one Kubernetes object, else the app fails naming it. The object after
 * substitution is at most LIMITS.maxSubstitutedObjectBytes characters larger than before.
 */
export function substituteObject(object: KubeObject, values: ReadonlyMap<string, string>): KubeObject {
  if (substitutionDisabled(object)) return unboxObject(object);
  if (!hasReference(object)) return object;
  const subject = subjectOf(object);
  let budget = LIMITS.maxSubstitutedObjectBytes;
  const unset: string[] = [];
  const text = (source: string) => {
    if (!source.includes('${')) return source;
    const result = substituteText(source, values, source.length + budget, unset);
    budget -= Math.max(0, result.length - source.length);
    return result;
  };
  const walk = (value: unknown, path: string): unknown => {
    if (typeof value === 'string') return text(value);
    if (value instanceof String) return plainScalar(text(value.valueOf()));
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((child, index) => walk(child, `${path}/${index}`));
    const result: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      const name = text(key);
      if (Object.hasOwn(result, name)) throw new SubstitutionError(`two keys at ${path || '/'} are "${name}" after substitution`);
      Object.defineProperty(result, name, { value: walk(child, `${path}/${key}`), enumerable: true, writable: true, configurable: true });
    }
    return result;
  };
  let candidate: KubeObject;
  try {
    candidate = walk(object, '') as KubeObject;
    throwUnset(unset);
  } catch (error) {
    if (!(error instanceof SubstitutionError)) throw error;
    throw new SubstitutionError(`${subject}: ${error.message.startsWith('more than') ? `more than ${LIMITS.maxSubstitutedObjectBytes} characters added by substitution` : error.message}`);
  }
  const valid =
    typeof candidate.apiVersion === 'string' &&
    candidate.apiVersion !== '' &&
    typeof candidate.kind === 'string' &&
    candidate.kind !== '' &&
    candidate.metadata !== null &&
    typeof candidate.metadata === 'object' &&
    !Array.isArray(candidate.metadata) &&
    typeof candidate.metadata.name === 'string' &&
    candidate.metadata.name !== '';
  if (!valid) throw new SubstitutionError(`${subject}: not a valid object after substitution (it needs apiVersion, kind and metadata.name)`);
  return candidate;
}

export function substituteObjects(objects: KubeObject[], variables: AppVariables | null): KubeObject[] {
  return variables ? objects.map((object) => substituteObject(object, variables.values)) : objects.map(unboxObject);
}

/**
 * The app's variables on this cluster: the desired state's, then each Secret of `valuesFrom` in
 * the agent's namespace (later ones win). Null when the desired state carries none (substitution
 * off for the app, or a control plane from before variables).
 */
export async function loadVariables(app: DesiredApp, client: KubeClient, namespace: string): Promise<AppVariables | null> {
  if (!app.variables) return null;
  const values = new Map<string, string>();
  for (const [name, value] of Object.entries(app.variables)) values.set(name, value.replaceAll('\n', ''));
  const secretValues: string[] = [];
  for (const { secret, optional } of app.valuesFrom ?? []) {
    let object: KubeObject | null;
    try {
      object = await client.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: secret });
    } catch (error) {
      throw new SubstitutionError(`Secret ${namespace}/${secret} (valuesFrom) could not be read: ${(error as Error).message}`);
    }
    if (!object) {
      if (optional) continue;
      throw new SubstitutionError(`Secret ${namespace}/${secret} (valuesFrom) not found`);
    }
    for (const [key, encoded] of Object.entries((object['data'] ?? {}) as Record<string, string>)) {
      if (!VARIABLE_NAME.test(key)) throw new SubstitutionError(`Secret ${namespace}/${secret} (valuesFrom): key "${key}" is not a variable name ([_a-zA-Z][_a-zA-Z0-9]*)`);
      const value = Buffer.from(encoded, 'base64').toString('utf8').replaceAll('\n', '');
      values.set(key, value);
      if (value !== '') secretValues.push(value);
    }
  }
  return { values, secretValues };
}

export const MASK = '***';

/** `value` with every Secret value in its strings (and keys) replaced by `***`. */
export function maskSecretValues<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  const ordered = [...new Set(secrets)].sort((a, b) => b.length - a.length);
  const maskString = (text: string) => ordered.reduce((masked, secret) => masked.replaceAll(secret, MASK), text);
  const walk = (current: unknown): unknown => {
    if (typeof current === 'string') return maskString(current);
    if (Array.isArray(current)) return current.map(walk);
    if (current !== null && typeof current === 'object') return Object.fromEntries(Object.entries(current).map(([key, child]) => [maskString(key), walk(child)]));
    return current;
  };
  return walk(value) as T;
}
