// The reconciler: one straight pipeline per app — fetch → build → apply → prune → health → report —
// one method per step, where each step's failure maps to one reason (reasons.ts) and the report is
// always produced. Apps are reconciled one after another and a failing app never stops the others.
import type { AppReport, DesiredApp, DesiredState, DriftEntry, Phase } from '../lib/api/schemas.ts';
import { LIMITS } from '../lib/limits.ts';
import { ArtifactCache, BuildError, FetchError, buildApp, toFetchError, type ArtifactFiles, type ArtifactPuller } from './artifact.ts';
import { driftOf } from './drift.ts';
import { entryOf, refOfEntry, staleEntries, type Inventory, type InventoryEntry, type InventoryStore } from './inventory.ts';
import type { KubeClient, KubeObject } from './kube/client.ts';
import type { KustomizeOptions } from './kustomize.ts';
import type { Logger } from './log.ts';
import { AGENT_METRICS, type Metrics } from './metrics.ts';
import { ownerLabelsOf } from './ownership.ts';
import { DependencyTracker, dependencyOrder } from './dependencies.ts';
import { driftReportedNote, needsWrite, planned, reportedDrift, splitDrifted } from './report-only.ts';
import type { FailureReason, Reason } from './reasons.ts';
import type { AppliedObject, ApplyResult } from './ssa/apply.ts';
import { requiredKeys, type SignatureVerifier } from './verify.ts';
import { countActions, type ChangeSetEntry } from './ssa/changeset.ts';
import { ApplyError, messageOf } from './ssa/errors.ts';
import { hasStatus } from './ssa/health.ts';
import { ResourceManager, type ManagerOptions } from './ssa/manager.ts';
import { VerifiedObjects } from './ssa/verified.ts';
import { inventoryIdOf, refOf, type ObjectRef } from './ssa/objects.ts';
import { SubstitutionError, loadVariables, maskSecretValues, substituteObjects } from './substitute.ts';

export interface ReconcilerOptions {
  client: KubeClient;
  inventory: InventoryStore;
  pull: ArtifactPuller;
  /** Checks required cosign signatures before a pull; without it, an app that requires signatures fails. */
  verify?: SignatureVerifier;
  logger: Logger;
  metrics: Metrics;
  cache?: ArtifactCache;
  /** How long one reconcile waits for health before reporting Progressing (the app's timeout still applies across reconciles). */
  healthBudgetMs?: number;
  /** Backoff after a failed pull: first delay, doubled per failure up to the maximum. */
  fetchBackoff?: { baseMs: number; maxMs: number };
  manager?: Partial<Omit<ManagerOptions, 'ownerLabels'>>;
  /** The kustomize binary and the build's bounds, for apps whose path holds a kustomization (kustomize.ts). */
  kustomize?: KustomizeOptions;
  /** Told which objects each app owns (an empty list when it has none left): the watches follow it (watch.ts). */
  onInventory?: (app: string, entries: readonly InventoryEntry[]) => void;
}

const HEALTH_POLL_MS = 500;

/** A condition's message is shown in lists; the report's message holds the long form. */
const CONDITION_MESSAGE_CHARS = 1024;

interface AppMemory {
  /** The digest whose rollout is being watched, and since when. */
  digest: string;
  rolloutStartedAt: number;
}

interface FetchBackoff {
  digest: string;
  failures: number;
  retryAt: number;
  error: FetchError;
}

/** What the pipeline found for one app: the report without the app's name, version and digest. */
interface Outcome extends Omit<AppReport, 'name' | 'version' | 'digest' | 'reason'> {
  reason: Reason;
}

type Status = Pick<Outcome, 'phase' | 'reason' | 'message' | 'conditions'>;

/** A failed step: the reason reported, and what was written before it failed. */
class StepFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    readonly changes: ChangeSetEntry[] = [],
  ) {
    super(message);
  }
}

export class Reconciler {
  private readonly cache: ArtifactCache;
  private readonly memory = new Map<string, AppMemory>();
  private readonly backoff = new Map<string, FetchBackoff>();
  private readonly dependencies = new DependencyTracker();
  /** Digest + keys whose signatures verified: a digest is immutable, so is its verdict (signatures are not revoked here). */
  private readonly verified = new Set<string>();
  /** Per app, the values its Secrets (valuesFrom) gave the last time they were read: masked in its reports. */
  private readonly secretValues = new Map<string, string[]>();
  /** Per app: what the last plan of each object found (ssa/verified.ts). */
  private readonly planned = new Map<string, VerifiedObjects>();
  private readonly healthBudgetMs: number;
  private readonly fetchBackoff: { baseMs: number; maxMs: number };

  constructor(private readonly options: ReconcilerOptions) {
    this.cache = options.cache ?? new ArtifactCache();
    this.healthBudgetMs = options.healthBudgetMs ?? 5_000;
    this.fetchBackoff = options.fetchBackoff ?? { baseMs: 2_000, maxMs: 5 * 60_000 };
  }

  /**
   * Every desired app, dependencies first, then the removal of apps that left the desired state;
   * one report per desired app, in the desired state's order. `reuse` may answer for an app with
   * its last report (a watched app between full checks, agent.ts): it is then not reconciled.
   */
  async reconcileAll(state: DesiredState, reuse?: (app: DesiredApp) => AppReport | undefined): Promise<AppReport[]> {
    const reports = new Map<string, AppReport>();
    for (const app of dependencyOrder(state.apps)) reports.set(app.name, reuse?.(app) ?? (await this.reconcileApp(app, state.suspended, state.apps)));
    this.dependencies.retain(new Set(state.apps.map((app) => app.name)));
    if (!state.suspended) await this.removeUndesiredApps(new Set(state.apps.map((app) => app.name)));
    return state.apps.map((app) => reports.get(app.name)!);
  }

  /** One app; `desired` is every app of the desired state, which its `dependsOn` names (none given: every dependency is missing). */
  async reconcileApp(app: DesiredApp, clusterSuspended: boolean, desired: readonly DesiredApp[] = []): Promise<AppReport> {
    const started = Date.now();
    const suspended = clusterSuspended || app.suspended;
    let outcome: Outcome;
    try {
      const waiting = suspended ? null : this.dependencies.waitingFor(app, new Map(desired.map((other) => [other.name, other])));
      outcome = waiting ? { ...statusOf('Progressing', 'DependencyNotReady', waiting), drift: [], counts: {} } : await this.pipeline(app, suspended);
    } catch (error) {
      outcome = failedOutcome(error);
    }
    const report = this.report(app, maskSecretValues(outcome, this.secretValues.get(app.name) ?? []), Date.now() - started);
    this.dependencies.record(report);
    return report;
  }

  /** fetch → build → apply → prune → health. When suspended, apply only plans and nothing is pruned. */
  private async pipeline(app: DesiredApp, suspended: boolean): Promise<Outcome> {
    const files = await this.fetch(app);
    const objects = await this.substitute(app, await this.build(app, files));
    const manager = this.managerFor(app.name);
    const previous = await this.options.inventory.get(app.name);
    if (previous) this.options.onInventory?.(app.name, previous.entries);
    if (!suspended && app.drift === 'report') return this.reportOnlyPipeline(manager, app, objects, previous);
    const applied = await this.apply(manager, app, objects, previous, suspended);
    const drift = this.detectDrift(app, applied.objects, previous, suspended);
    if (suspended) {
      return {
        phase: 'Suspended',
        reason: 'Suspended',
        message: `reconciliation suspended; ${drift.length} drifted object(s) left alone`,
        conditions: [{ type: 'Ready', status: 'Unknown', reason: 'Suspended' }],
        drift,
        counts: countActions(applied.entries),
      };
    }
    const pruned = await this.prune(manager, app, previous, applied);
    const health = await this.health(manager, app, applied);
    return { ...health, drift, counts: countActions([...applied.entries, ...pruned]) };
  }

  /**
   * apply → prune → health with `drift: report`: a dry-run plans every object; drifted objects whose
   * desired content did not change are reported and left as found, the rest is applied (nothing is
   * written when only drift differs).
   */
  private async reportOnlyPipeline(manager: ResourceManager, app: DesiredApp, objects: KubeObject[], previous: Inventory | null): Promise<Outcome> {
    const plan = await this.apply(manager, app, objects, previous, true);
    const { toApply, leftAlone } = splitDrifted(plan.objects, previous);
    const written = needsWrite(toApply) ? await this.apply(manager, app, toApply.map((item) => item.object), previous, false) : planned(toApply);
    const drift = reportedDrift(leftAlone, previous);
    if (drift.length > 0) {
      this.options.logger.warn('drift detected, left in place: drift mode report', { app: app.name, objects: drift.map((entry) => entry.object) });
    }
    const applied: ApplyResult = { objects: [...written.objects, ...leftAlone], entries: written.entries };
    const pruned = await this.prune(manager, app, previous, applied);
    const health = await this.health(manager, app, applied);
    const counts = countActions([...written.entries, ...pruned]);
    if (leftAlone.length === 0) return { ...health, drift, counts };
    const note = driftReportedNote(leftAlone.length);
    const message = `${health.message}; ${note.message}`.slice(0, LIMITS.maxReportMessageChars);
    return { ...health, message, conditions: [...health.conditions, note.condition], drift, counts };
  }


  /**
   * fetch: the pinned artifact, from the cache or the registry; failed pulls back off per app.
   * Required signatures are verified first, before any layer is pulled (and before a cached copy
   * is used: the cache is shared by apps that may not require them).
   */
  private async fetch(app: DesiredApp): Promise<ArtifactFiles> {
    const keys = requiredKeys(app);
    const verdict = keys.length ? `${app.digest} ${keys.map((key) => key.publicKey).join(' ')}` : '';
    const verified = !verdict || this.verified.has(verdict);
    const cached = this.cache.get(app.digest);
    if (cached && verified) return cached;
    const waiting = this.backoff.get(app.name);
    if (waiting && waiting.digest === app.digest && Date.now() < waiting.retryAt) {
      const seconds = Math.ceil((waiting.retryAt - Date.now()) / 1000);
      throw new StepFailure(waiting.error.reason, `${waiting.error.message} (retrying in ${seconds}s; objects from the last applied version stay as they are)`);
    }
    try {
      if (!verified) {
        if (!this.options.verify) throw new FetchError('VerificationFailed', 'the app requires cosign signatures and this agent has no verifier', false);
        await this.options.verify(app.repository, app.digest, keys);
        if (this.verified.size >= 1_000) this.verified.clear();
        this.verified.add(verdict);
        this.options.logger.info('cosign signature verified', { app: app.name, digest: app.digest, keys: keys.map((key) => key.name) });
      }
      const files = cached ?? (await this.options.pull(app.repository, app.digest));
      this.cache.set(app.digest, files);
      this.backoff.delete(app.name);
      return files;
    } catch (error) {
      const fetchError = error instanceof FetchError ? error : toFetchError(error);
      const failures = waiting?.digest === app.digest ? waiting.failures + 1 : 1;
      // A bad artifact does not get better: retry it rarely. A registry outage: back off exponentially.
      const delay = fetchError.retryable
        ? Math.min(this.fetchBackoff.baseMs * 2 ** (failures - 1), this.fetchBackoff.maxMs)
        : this.fetchBackoff.maxMs;
      this.backoff.set(app.name, { digest: app.digest, failures, retryAt: Date.now() + delay * (0.8 + Math.random() * 0.4), error: fetchError });
      this.options.logger.warn('artifact fetch failed', { app: app.name, digest: app.digest, reason: fetchError.reason, error: fetchError.message, failures });
      throw new StepFailure(fetchError.reason, `${app.repository}@${app.digest}: ${fetchError.message}`);
    }
  }

  /** build: the objects under the app's path (kustomize-built when it holds a kustomization), none of them in the agent's own namespace. */
  private async build(app: DesiredApp, files: ArtifactFiles): Promise<KubeObject[]> {
    let objects: KubeObject[];
    try {
      objects = await buildApp(files, app.path, this.options.kustomize);
    } catch (error) {
      if (error instanceof BuildError) throw new StepFailure('BuildFailed', error.message);
      throw error;
    }
    this.refuseAgentNamespace(app, objects);
    return objects;
  }

  /**
   * substitute (after the build, as Flux's postBuild): the app's variables in every object that
   * does not opt out; a variable without a value fails the app and nothing is applied.
   */
  private async substitute(app: DesiredApp, objects: KubeObject[]): Promise<KubeObject[]> {
    try {
      const variables = await loadVariables(app, this.options.client, this.options.inventory.namespace);
      if (variables) this.secretValues.set(app.name, variables.secretValues);
      const substituted = substituteObjects(objects, variables);
      // A namespace may come from a variable: checked again on what will be applied.
      this.refuseAgentNamespace(app, substituted);
      return substituted;
    } catch (error) {
      if (error instanceof SubstitutionError) throw new StepFailure('SubstitutionFailed', error.message);
      throw error;
    }
  }

  /**
   * The agent's namespace holds its identity Secret, desired state and every app's inventory: an
   * artifact that could write there could brick the agent or orphan another app's objects.
   */
  private refuseAgentNamespace(app: DesiredApp, objects: KubeObject[]): void {
    const reserved = this.options.inventory.namespace;
    const intruder = objects.find((object) => {
      const namespace = object.metadata?.namespace ?? app.namespace;
      return namespace === reserved || (object.kind === 'Namespace' && object.metadata?.name === reserved);
    });
    if (intruder) {
      throw new StepFailure(
        'InvalidObject',
        `${intruder.kind}/${intruder.metadata?.name ?? '?'} would be written to ${reserved}, the agent's own namespace; apps may not write there`,
      );
    }
  }

  /** apply (or, when suspended, plan only): nothing is written unless every object passed its dry-run. */
  private async apply(manager: ResourceManager, app: DesiredApp, objects: KubeObject[], previous: Inventory | null, suspended: boolean): Promise<ApplyResult> {
    try {
      return await manager.applyAllStaged(objects, { defaultNamespace: app.namespace, recreate: app.recreate, dryRun: suspended });
    } catch (error) {
      if (!(error instanceof ApplyError)) throw new StepFailure('ApplyFailed', messageOf(error));
      if (!suspended) await this.recordPartialApply(app, previous, error.entries);
      throw new StepFailure(error.reason, error.message, error.entries);
    }
  }

  /**
   * Objects written before an apply failed (a Namespace or CRD of the definitions stage) join the
   * inventory, so a later version or the app's removal prunes them instead of orphaning them.
   * Their hash is unknown (empty): the next apply treats them as changed, not as drift.
   */
  private async recordPartialApply(app: DesiredApp, previous: Inventory | null, changes: ChangeSetEntry[]): Promise<void> {
    const known = new Set(previous?.entries.map((entry) => entry.id));
    const written = changes
      .filter((change) => change.action === 'created' || change.action === 'configured')
      .map((change) => ({ id: inventoryIdOf(change.ref), v: change.ref.apiVersion, h: '' }))
      .filter((entry) => !known.has(entry.id));
    if (written.length === 0) return;
    await this.options.inventory.put({
      app: app.name,
      version: previous?.version ?? app.version,
      digest: previous?.digest ?? app.digest,
      entries: [...(previous?.entries ?? []), ...written],
      prune: app.prune,
    });
  }

  private detectDrift(app: DesiredApp, applied: AppliedObject[], previous: Inventory | null, suspended: boolean): DriftEntry[] {
    const drift = driftOf(applied, previous, !suspended);
    if (drift.length > 0) {
      this.options.logger.warn(suspended ? 'drift detected, left alone: suspended' : 'drift detected and corrected', {
        app: app.name,
        objects: drift.map((entry) => entry.object),
      });
    }
    return drift;
  }

  /** prune: old inventory minus new. The new inventory is recorded here, whether or not anything is pruned. */
  private async prune(manager: ResourceManager, app: DesiredApp, previous: Inventory | null, applied: ApplyResult): Promise<ChangeSetEntry[]> {
    const entries = applied.objects.map((item) => entryOf(item.object));
    // Before anything is pruned: the deletions that follow are the agent's, not drift.
    this.options.onInventory?.(app.name, entries);
    const stale = previous ? staleEntries(previous.entries, entries) : [];
    if (stale.length === 0 || !app.prune) {
      await this.saveInventory(app, previous, entries);
      return [];
    }
    // Stale entries stay recorded until they are gone, so a failed prune is retried next time.
    await this.saveInventory(app, previous, [...entries, ...stale]);
    let pruned: ChangeSetEntry[];
    try {
      pruned = await manager.deleteAll(stale.map(refOfEntry));
    } catch (error) {
      throw new StepFailure('PruneFailed', messageOf(error), applied.entries);
    }
    await this.saveInventory(app, null, entries);
    return pruned;
  }

  private async saveInventory(app: DesiredApp, previous: Inventory | null, entries: InventoryEntry[]): Promise<void> {
    const next: Inventory = { app: app.name, version: app.version, digest: app.digest, entries, prune: app.prune };
    if (
      previous &&
      previous.digest === next.digest &&
      previous.version === next.version &&
      previous.prune === next.prune &&
      JSON.stringify(previous.entries) === JSON.stringify(next.entries)
    ) {
      return;
    }
    await this.options.inventory.put(next);
  }

  /**
   * health: waits a short budget per reconcile; a rollout (a new digest, or anything written)
   * that is not healthy within the app's timeout has failed.
   */
  private async health(manager: ResourceManager, app: DesiredApp, applied: ApplyResult): Promise<Status> {
    const rollout = this.rolloutOf(app, applied.entries);
    if (!app.wait) {
      return { phase: 'Ready', reason: 'Applied', message: 'applied; health not checked (wait is off)', conditions: [{ type: 'Ready', status: 'True', reason: 'Applied' }] };
    }
    const objects = applied.objects.map((item) => item.object);
    const refs: ObjectRef[] = objects.filter(hasStatus).map(refOf);
    const deadline = rollout.rolloutStartedAt + app.timeoutSeconds * 1000;
    const budget = Math.max(0, Math.min(this.healthBudgetMs, deadline - Date.now()));
    const result = await manager.waitForSet(refs, { intervalMs: HEALTH_POLL_MS, timeoutMs: budget });
    if (result.status === 'Ready') return statusOf('Ready', 'ReconciliationSucceeded', `${objects.length} object(s) applied and healthy`);
    const notReady = result.objects.filter((object) => object.status !== 'Ready');
    const summary = notReady.slice(0, 10).map((object) => `${object.subject}: ${object.message}`).join('; ');
    if (result.status === 'Progressing' && Date.now() >= deadline) {
      return statusOf('Failed', 'HealthCheckTimeout', `not healthy after ${app.timeoutSeconds}s: ${summary}`);
    }
    return statusOf(result.status, result.status === 'Failed' ? 'HealthCheckFailed' : 'Progressing', summary);
  }

  /** The rollout being watched: a new one starts with a new digest or when anything was written. */
  private rolloutOf(app: DesiredApp, entries: ChangeSetEntry[]): AppMemory {
    const changed = entries.some((entry) => entry.action !== 'unchanged');
    const memory = this.memory.get(app.name);
    const rollout = !memory || memory.digest !== app.digest || changed ? { digest: app.digest, rolloutStartedAt: Date.now() } : memory;
    this.memory.set(app.name, rollout);
    return rollout;
  }

  /** report: the app's report, its metrics and one log line. */
  private report(app: DesiredApp, outcome: Outcome, durationMs: number): AppReport {
    const report: AppReport = { name: app.name, version: app.version, digest: app.digest, ...outcome };
    const { metrics, logger } = this.options;
    metrics.inc(AGENT_METRICS.reconciles, { app: app.name, phase: report.phase });
    metrics.inc(AGENT_METRICS.reconcileSeconds, { app: app.name }, durationMs / 1000);
    for (const phase of ['Ready', 'Progressing', 'Failed', 'Suspended']) {
      metrics.set(AGENT_METRICS.appPhase, { app: app.name, phase }, phase === report.phase ? 1 : 0);
    }
    metrics.set(AGENT_METRICS.driftedObjects, { app: app.name }, report.drift.length);
    for (const [action, count] of Object.entries(report.counts)) {
      metrics.inc(AGENT_METRICS.objects, { action }, count);
    }
    // A steady state (nothing written, nothing drifted, still Ready) is logged at debug level only.
    const quiet = report.phase === 'Ready' && report.drift.length === 0 && Object.keys(report.counts).every((action) => action === 'unchanged');
    const level = report.phase === 'Failed' ? 'error' : quiet ? 'debug' : 'info';
    logger[level]('app reconciled', {
      app: app.name,
      version: report.version,
      phase: report.phase,
      reason: report.reason,
      message: report.phase === 'Ready' ? undefined : report.message,
      counts: report.counts,
      drifted: report.drift.length,
      durationMs,
    });
    return report;
  }

  /** Apps with an inventory in the cluster but no longer in the desired state lose their objects. */
  private async removeUndesiredApps(desired: Set<string>): Promise<void> {
    let inventoried: string[];
    try {
      inventoried = await this.options.inventory.apps();
    } catch (error) {
      // The reports of this cycle are still sent; removal is tried again next cycle.
      this.options.logger.error('listing inventories failed; apps that left the desired state are removed next time', { error: messageOf(error) });
      return;
    }
    for (const name of inventoried) {
      if (desired.has(name)) continue;
      try {
        const inventory = await this.options.inventory.get(name);
        this.options.onInventory?.(name, []);
        // An app with prune: false keeps its objects when it goes, as it keeps them when they leave its artifact.
        const entries = inventory?.prune ? await this.managerFor(name).deleteAll(inventory.entries.map(refOfEntry)) : [];
        await this.options.inventory.delete(name);
        this.memory.delete(name);
        this.backoff.delete(name);
        this.dependencies.forget(name);
        this.secretValues.delete(name);
        this.planned.delete(name);
        this.options.metrics.remove(AGENT_METRICS.appPhase, { app: name });
        this.options.logger.info(
          inventory?.prune ? 'app removed from the desired state; its objects were deleted' : 'app removed from the desired state; its objects were left in place (prune: false)',
          { app: name, counts: countActions(entries) },
        );
      } catch (error) {
        this.options.logger.error('removing an app that left the desired state failed', { app: name, error: messageOf(error) });
      }
    }
  }

  /** A manager bound to one app's owner labels: it adopts, writes and prunes only that app's objects. */
  private managerFor(app: string): ResourceManager {
    let planned = this.planned.get(app);
    if (!planned) this.planned.set(app, (planned = new VerifiedObjects()));
    return new ResourceManager(this.options.client, { ...this.options.manager, ownerLabels: ownerLabelsOf(app), verified: planned });
  }
}

/** A failed reconcile's outcome: the failing step's reason, and the counts of what it had written. */
function failedOutcome(error: unknown): Outcome {
  const failure = error instanceof StepFailure ? error : new StepFailure('ReconcileFailed', messageOf(error));
  return { ...statusOf('Failed', failure.reason, failure.message), drift: [], counts: countActions(failure.changes) };
}

/** Phase, reason and message, with the Ready condition that says the same, both cut to what the API takes. */
function statusOf(phase: Phase, reason: Reason, message: string): Status {
  const ready = phase === 'Ready' ? 'True' : phase === 'Failed' ? 'False' : 'Unknown';
  return {
    phase,
    reason,
    message: message.slice(0, LIMITS.maxReportMessageChars),
    conditions: [{ type: 'Ready', status: ready, reason, message: message.slice(0, CONDITION_MESSAGE_CHARS) }],
  };
}
