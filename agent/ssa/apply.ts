// Apply: every object is dry-run before the first real write, so an artifact with one object the
// apiserver rejects leaves the cluster as it was. Objects that cannot be dry-run yet because they
// live in a Namespace or are of a kind defined by a CRD from the same set are planned again after
// the definitions are applied and established — the only case where a failure can leave part of a
// set applied.
import { sleep } from '../../lib/sleep.ts';
import { KubeApiError, isNotFound, type KubeObject } from '../kube/client.ts';
import { entryFor, type ChangeSetEntry } from './changeset.ts';
import { diffObject } from './diff.ts';
import { ApplyError, OwnershipConflictError, isImmutableError, messageOf, type ObjectFailure } from './errors.ts';
import type { ManagerContext } from './context.ts';
import { mapLimit } from './limit.ts';
import { groupOf, inventoryIdOf, refOf, subjectOf } from './objects.ts';
import { compareForApply, isDefinition, rankOf } from './sort.ts';
import { VerifiedObjects } from './verified.ts';
import { waitForSet, type WaitOptions } from './wait.ts';

export interface ApplyOptions {
  /** Namespace for namespaced objects that name none. */
  defaultNamespace: string;
  /** Delete and re-create objects whose change touches an immutable field. */
  recreate: boolean;
  /** Plan only: compute the change set (and drift) but write nothing. */
  dryRun: boolean;
  /** How long to wait for CRDs and Namespaces, and for a recreated object's deletion. */
  wait: Partial<WaitOptions>;
}

export const defaultApplyOptions: ApplyOptions = {
  defaultNamespace: 'default',
  recreate: false,
  dryRun: false,
  wait: { intervalMs: 500, timeoutMs: 60_000 },
};

export interface AppliedObject {
  /** The object as sent: owner labels stamped, namespace resolved. */
  object: KubeObject;
  entry: ChangeSetEntry;
}

export interface ApplyResult {
  objects: AppliedObject[];
  entries: ChangeSetEntry[];
}

interface Plan {
  object: KubeObject;
  entry: ChangeSetEntry;
  /** The dry-run hit an immutable field and the options allow recreating. */
  recreate: boolean;
  /** VerifiedObjects.fingerprint of the object, when the context keeps verified objects. */
  fingerprint?: string;
}

type PlanOutcome = { plan: Plan } | { deferred: KubeObject } | { failure: ObjectFailure; immutable: boolean };

export async function applyAllStaged(
  context: ManagerContext,
  objects: KubeObject[],
  partialOptions: Partial<ApplyOptions> = {},
): Promise<ApplyResult> {
  const options = { ...defaultApplyOptions, ...partialOptions };
  const prepared = await prepareObjects(context, objects, options.defaultNamespace);
  const definitions = prepared.filter(isDefinition);
  const rest = prepared.filter((object) => !isDefinition(object));

  // Definitions are planned first so objects waiting for a new Namespace or CRD are not even tried.
  const definitionOutcomes = await planAll(context, definitions, options, NO_DEPENDENCIES);
  const definitionPlans = plansOf(definitionOutcomes);
  const newDefinitions = definitionPlans.filter((plan) => plan.entry.action === 'created').map((plan) => plan.object);
  const restOutcomes = await planAll(context, rest, options, {
    waitsFor: dependencyCheck(newDefinitions),
    mayWaitFor: dependencyCheck(definitions),
  });
  throwOnFailures([...definitionOutcomes, ...restOutcomes], []);
  const restPlans = plansOf(restOutcomes);
  const deferred = restOutcomes.flatMap((outcome) => ('deferred' in outcome ? [outcome.deferred] : []));

  if (options.dryRun) {
    // Deferred objects depend on definitions that are not there yet, so they would be created.
    const deferredPlans = deferred.map((object) => ({ object, entry: entryFor(refOf(object), 'created'), recreate: false }));
    context.verified?.keepOnly(prepared);
    return resultOf([...definitionPlans, ...restPlans, ...deferredPlans]);
  }

  const written: ChangeSetEntry[] = [];
  await writePlans(context, definitionPlans, options, written);
  if (definitionPlans.some((plan) => plan.entry.action !== 'unchanged')) {
    if (definitionPlans.some((plan) => plan.object.kind === 'CustomResourceDefinition')) context.client.invalidateDiscovery();
    const health = await waitForSet(context, definitionPlans.map((plan) => refOf(plan.object)), options.wait);
    if (health.status !== 'Ready') {
      const failures = health.objects
        .filter((object) => object.status !== 'Ready')
        .map((object) => ({ subject: object.subject, message: object.message }));
      throw new ApplyError('DefinitionsNotReady', failures, written);
    }
    context.client.invalidateDiscovery();
    await waitForServedKinds(context, definitionPlans.map((plan) => plan.object), options, written);
  }

  const lateOutcomes = await planAll(context, deferred, options, NO_DEPENDENCIES);
  throwOnFailures(lateOutcomes, written);
  const allRestPlans = [...restPlans, ...plansOf(lateOutcomes)];
  await writePlans(context, allRestPlans, options, written);
  context.verified?.keepOnly(prepared);
  return resultOf([...definitionPlans, ...allRestPlans]);
}

/** How often discovery is asked again for the kinds of a new CRD. */
const DISCOVERY_POLL_MS = 200;

/**
 * An Established CRD is not yet in discovery everywhere: the apiserver publishes the new
 * group-version a moment later. Objects of its kind are planned only once discovery serves it.
 */
async function waitForServedKinds(
  context: ManagerContext,
  definitions: KubeObject[],
  options: ApplyOptions,
  written: ChangeSetEntry[],
): Promise<void> {
  const deadline = Date.now() + (options.wait.timeoutMs ?? 60_000);
  for (const crd of definitions.filter((object) => object.kind === 'CustomResourceDefinition')) {
    const spec = crd['spec'] as { group: string; names: { kind: string }; versions: { name: string; served: boolean }[] };
    for (const version of spec.versions.filter((candidate) => candidate.served)) {
      for (;;) {
        try {
          await context.client.resourceFor(`${spec.group}/${version.name}`, spec.names.kind);
          break;
        } catch (error) {
          if (!isNotFound(error)) throw error;
          if (Date.now() > deadline) {
            throw new ApplyError('DefinitionsNotReady', [{ subject: subjectOf(crd), message: `${spec.group}/${version.name} is not served by discovery` }], written);
          }
          await sleep(DISCOVERY_POLL_MS);
        }
      }
    }
  }
}

function resultOf(plans: Plan[]): ApplyResult {
  const sorted = [...plans].sort((a, b) => compareForApply(a.object, b.object));
  return {
    objects: sorted.map((plan) => ({ object: plan.object, entry: plan.entry })),
    entries: sorted.map((plan) => plan.entry),
  };
}

function plansOf(outcomes: PlanOutcome[]): Plan[] {
  return outcomes.flatMap((outcome) => ('plan' in outcome ? [outcome.plan] : []));
}

function throwOnFailures(outcomes: PlanOutcome[], written: ChangeSetEntry[]): void {
  const failed = outcomes.flatMap((outcome) => ('failure' in outcome ? [outcome] : []));
  if (failed.length === 0) return;
  // An immutable-field refusal is the more specific reason when it is the only kind of failure.
  const reason = failed.every((outcome) => outcome.immutable) ? 'ImmutableFieldChange' : 'DryRunFailed';
  throw new ApplyError(reason, failed.map((outcome) => outcome.failure), written);
}

/**
 * Validates every document, stamps the owner labels and resolves scope by discovery (or by the
 * CRD in the same set): namespaced objects get the default namespace, cluster-scoped lose theirs.
 */
async function prepareObjects(context: ManagerContext, objects: KubeObject[], defaultNamespace: string): Promise<KubeObject[]> {
  const failures: ObjectFailure[] = [];
  const crdScopes = new Map<string, boolean>();
  for (const object of objects) {
    if (object?.kind !== 'CustomResourceDefinition') continue;
    const spec = object['spec'] as { group?: string; names?: { kind?: string }; scope?: string } | undefined;
    if (spec?.group && spec.names?.kind) crdScopes.set(`${spec.group}/${spec.names.kind}`, spec.scope === 'Namespaced');
  }
  const seen = new Set<string>();
  const prepared: KubeObject[] = [];
  for (const [index, object] of objects.entries()) {
    const problem = validationProblem(object);
    if (problem) {
      failures.push({ subject: `document ${index + 1}`, message: problem });
      continue;
    }
    // A new top level and metadata; the rest is shared with the caller's object, never written.
    const copy: KubeObject = { ...object, metadata: { ...object.metadata, labels: { ...object.metadata.labels, ...context.ownerLabels } } };
    let namespaced: boolean | undefined;
    try {
      namespaced = (await context.client.resourceFor(copy.apiVersion, copy.kind)).namespaced;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      namespaced = crdScopes.get(`${groupOf(copy.apiVersion)}/${copy.kind}`);
      if (namespaced === undefined) {
        failures.push({ subject: subjectOf(copy), message: `unknown kind ${copy.kind} in ${copy.apiVersion}` });
        continue;
      }
    }
    if (namespaced) copy.metadata.namespace ||= defaultNamespace;
    else delete copy.metadata.namespace;
    const id = inventoryIdOf(copy);
    if (seen.has(id)) {
      failures.push({ subject: subjectOf(copy), message: 'defined more than once' });
      continue;
    }
    seen.add(id);
    prepared.push(copy);
  }
  if (failures.length > 0) throw new ApplyError('InvalidObject', failures);
  return prepared.sort(compareForApply);
}

function validationProblem(object: unknown): string | undefined {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) return 'not a Kubernetes object (expected a mapping)';
  const candidate = object as Partial<KubeObject>;
  if (typeof candidate.apiVersion !== 'string' || !candidate.apiVersion) return 'apiVersion is missing';
  if (typeof candidate.kind !== 'string' || !candidate.kind) return 'kind is missing';
  if (typeof candidate.metadata !== 'object' || candidate.metadata === null) return 'metadata is missing';
  if (typeof candidate.metadata.name !== 'string' || !candidate.metadata.name) return 'metadata.name is missing';
  if (candidate.metadata.generateName !== undefined) return 'metadata.generateName cannot be applied server-side';
  return undefined;
}

interface Dependencies {
  /** Objects that cannot be planned before these definitions exist: deferred without a request. */
  waitsFor: (object: KubeObject) => boolean;
  /** Objects whose dry-run may fail with NotFound until the definitions are applied: deferred on 404. */
  mayWaitFor: (object: KubeObject) => boolean;
}

const NO_DEPENDENCIES: Dependencies = { waitsFor: () => false, mayWaitFor: () => false };

/** True for objects in a Namespace, or of a kind defined by a CRD, from `definitions`. */
function dependencyCheck(definitions: KubeObject[]): (object: KubeObject) => boolean {
  const namespaces = new Set(definitions.filter((object) => object.kind === 'Namespace').map((object) => object.metadata.name));
  const kinds = new Set(
    definitions
      .filter((object) => object.kind === 'CustomResourceDefinition')
      .map((object) => {
        const spec = object['spec'] as { group?: string; names?: { kind?: string } } | undefined;
        return `${spec?.group}/${spec?.names?.kind}`;
      }),
  );
  return (object) =>
    namespaces.has(object.metadata.namespace ?? '') || kinds.has(`${groupOf(object.apiVersion)}/${object.kind}`);
}

async function planAll(
  context: ManagerContext,
  objects: KubeObject[],
  options: ApplyOptions,
  { waitsFor, mayWaitFor }: Dependencies,
): Promise<PlanOutcome[]> {
  const ready = objects.filter((object) => !waitsFor(object));
  const live = await listLive(context, ready);
  const { verified } = context;
  return mapLimit(objects, context.concurrency, async function planObject(object): Promise<PlanOutcome> {
    if (waitsFor(object)) return { deferred: object };
    const listed = live.get(inventoryIdOf(object));
    const fingerprint = verified && VerifiedObjects.fingerprint(object);
    const known = fingerprint ? verified.lookup(fingerprint, listed) : undefined;
    if (known) return { plan: { object, entry: known, recreate: false, fingerprint } };
    try {
      const diff = await diffObject(context, object, listed);
      if (fingerprint) verified.record(object, fingerprint, diff.live, diff.entry);
      return { plan: { object, entry: diff.entry, recreate: false, fingerprint } };
    } catch (error) {
      verified?.forget(object);
      if (isNotFound(error) && mayWaitFor(object)) return { deferred: object };
      if (isImmutableError(error)) {
        if (options.recreate) {
          const entry = entryFor(refOf(object), 'created', { message: 'recreated: an immutable field changed' });
          return { plan: { object, entry, recreate: true } };
        }
        return { failure: { subject: subjectOf(object), message: messageOf(error) }, immutable: true };
      }
      if (error instanceof KubeApiError || error instanceof OwnershipConflictError) {
        return { failure: { subject: subjectOf(object), message: error.message }, immutable: false };
      }
      throw error;
    }
  });
}

/** Below this many objects of one kind in one namespace, single GETs are cheaper than a LIST. */
const LIST_THRESHOLD = 5;
/**
 * Objects per LIST page. Every listed object is kept until its dry-run is compared, so the pages
 * are small enough that one response body (with managedFields, the bulk of it) stays a few
 * hundred KiB, not megabytes: bench:agent's peak RSS (README, "Agent memory").
 */
const LIST_PAGE_SIZE = 100;

/**
 * What diffObject reads of a listed object: all but status and managedFields (often half of
 * an object's size, and never compared).
 */
function comparedPart(object: KubeObject): KubeObject {
  const { status: _status, ...rest } = object;
  const { managedFields: _managedFields, ...metadata } = object.metadata as KubeObject['metadata'] & { managedFields?: unknown };
  return { ...rest, metadata } as KubeObject;
}

/**
 * Live objects that carry the owner labels, one LIST per kind and namespace instead of a GET per
 * object. Objects missing from the result are looked up one by one (they may exist unlabelled).
 */
async function listLive(context: ManagerContext, objects: KubeObject[]): Promise<Map<string, KubeObject>> {
  const groups = new Map<string, KubeObject[]>();
  for (const object of objects) {
    const key = `${object.apiVersion}|${object.kind}|${object.metadata.namespace ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), object]);
  }
  const labelSelector = Object.entries(context.ownerLabels)
    .map(([name, value]) => `${name}=${value}`)
    .join(',');
  const live = new Map<string, KubeObject>();
  for (const group of groups.values()) {
    const [first] = group;
    if (!first || group.length < LIST_THRESHOLD) continue;
    const { apiVersion, kind } = first;
    let path: string;
    try {
      path = await context.client.pathFor({ apiVersion, kind, namespace: first.metadata.namespace });
    } catch (error) {
      if (isNotFound(error)) continue;
      throw error;
    }
    let next: string | undefined;
    do {
      const page = await context.client.request<{ items: KubeObject[]; metadata: { continue?: string } }>('GET', path, {
        query: { labelSelector, limit: String(LIST_PAGE_SIZE), continue: next },
      });
      // List items come without apiVersion and kind.
      for (const item of page?.items ?? []) live.set(inventoryIdOf({ ...item, apiVersion, kind }), comparedPart({ ...item, apiVersion, kind }));
      next = page?.metadata.continue || undefined;
    } while (next);
  }
  return live;
}

/** Writes changed objects rank by rank (kind order), objects of one rank concurrently. */
async function writePlans(context: ManagerContext, plans: Plan[], options: ApplyOptions, written: ChangeSetEntry[]): Promise<void> {
  const changed = plans.filter((plan) => plan.entry.action !== 'unchanged');
  const ranks = [...new Set(changed.map((plan) => rankOf(plan.object)))].sort((a, b) => a - b);
  for (const rank of ranks) {
    const batch = changed.filter((plan) => rankOf(plan.object) === rank);
    const failures: ObjectFailure[] = [];
    await mapLimit(batch, context.concurrency, async function writePlan(plan) {
      try {
        if (plan.recreate) await deleteAndWait(context, plan.object, options);
        const applied = await context.client.apply(plan.object, { fieldManager: context.fieldManager, force: true });
        written.push(plan.entry);
        // As written, the object is what it should be: the next plan at this resourceVersion finds nothing.
        if (plan.fingerprint) context.verified?.record(plan.object, plan.fingerprint, applied, entryFor(refOf(plan.object), 'unchanged'));
      } catch (error) {
        context.verified?.forget(plan.object);
        failures.push({ subject: subjectOf(plan.object), message: messageOf(error) });
      }
    });
    if (failures.length > 0) throw new ApplyError('ApplyFailed', failures, written);
  }
}

async function deleteAndWait(context: ManagerContext, object: KubeObject, options: ApplyOptions): Promise<void> {
  const ref = refOf(object);
  await context.client.delete(ref);
  const intervalMs = options.wait.intervalMs ?? 500;
  const deadline = Date.now() + (options.wait.timeoutMs ?? 60_000);
  while (await context.client.get(ref)) {
    if (Date.now() > deadline) throw new Error('timed out waiting for deletion before re-creating');
    await sleep(intervalMs);
  }
}
