// The agent loop: check in, reconcile every app of the desired state, report — on a jittered
// interval so a fleet restarted together does not poll in lockstep. The desired state is persisted
// in the cluster on every change, so an unreachable control plane (or a restart while it is
// unreachable) never stops reconciliation; a revoked cluster stops the agent.
import type { AppReport, DesiredApp, DesiredState, DriftEntry } from '../lib/api/schemas.ts';
import { sleep } from '../lib/sleep.ts';
import { adoptPendingKey, bootstrap, rotateKey, type Credentials } from './bootstrap.ts';
import { ControlPlaneError, type ControlPlaneClient } from './control-plane.ts';
import { mergeDrift } from './drift.ts';
import type { Logger } from './log.ts';
import { AGENT_METRICS, type Metrics } from './metrics.ts';
import type { Reconciler } from './reconciler.ts';
import { fitReport } from './report.ts';
import { messageOf } from './ssa/errors.ts';
import type { AgentStateStore, StoredDesiredState } from './state.ts';
import type { ObjectWatcher } from './watch.ts';

export const AGENT_VERSION = '0.1.0';

export interface AgentOptions {
  store: AgentStateStore;
  controlPlane: ControlPlaneClient;
  reconciler: Reconciler;
  logger: Logger;
  metrics: Metrics;
  registrationToken?: string;
  /** Overrides the interval the control plane asks for (tests use about a second). */
  intervalMs?: number;
  /** ± share of the interval added at random, default 0.1. */
  jitter?: number;
  /** Reports are re-sent unchanged at least this often (default an hour): a control plane restored from a backup hears the status again. */
  reportHeartbeatMs?: number;
  /** Overrides the heartbeat interval the control plane asks for. */
  heartbeatMs?: number;
  /**
   * Watches on the apps' objects (watch.ts): a change someone else makes reconciles its app within
   * seconds, and an app whose objects are all watched gets its full check (a dry-run of every
   * object) only every `resyncMs` instead of every loop.
   */
  watcher?: ObjectWatcher;
  /** The full check's interval for watched apps (default 5 min); unwatched apps are checked every loop. */
  resyncMs?: number;
}

/** What the agent last reported for an app, and for which desired app (and cluster suspension) it was. */
interface LastReport {
  report: AppReport;
  desired: string;
  checkedAt: number;
}

export const DEFAULT_RESYNC_MS = 5 * 60_000;

/** Thrown out of the loop when the control plane says this cluster is revoked. */
export class RevokedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RevokedError';
  }
}

export type CheckInResult = 'changed' | 'unchanged' | 'unreachable';

function desiredKey(app: DesiredApp, suspended: boolean): string {
  return JSON.stringify([app, suspended]);
}

export class Agent {
  private credentials: Credentials | null = null;
  private desired: StoredDesiredState | null = null;
  private lastReport: { body: string; sentAt: number } | null = null;
  /** When a check-in last delivered the heartbeat. */
  private lastHeartbeatAt = 0;
  /** Drift found while reports could not be delivered, per app, oldest first. */
  private readonly undeliveredDrift = new Map<string, DriftEntry[]>();
  private stopped = false;
  /** Per desired app, its last report: reused between full checks, and the rest of a drift reconcile's report. */
  private readonly lastReports = new Map<string, LastReport>();
  /** Reconciles (the loop's and drift-triggered ones) run one at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  /** The pause between iterations in progress, which stop() cuts short. */
  private pausing: AbortController | null = null;
  /** For /healthz: set when the loop ends for good (revoked, or a bootstrap failure). */
  fatalError: Error | null = null;
  lastLoopAt = 0;

  constructor(private readonly options: AgentOptions) {}

  get identity() {
    return this.credentials?.identity ?? null;
  }

  /** Loads (or registers) the identity; a revoked or unknown token fails here, loudly. */
  async start(): Promise<void> {
    if ((await this.options.store.ensureNamespace()) === 'created') {
      this.options.logger.info('created the agent namespace', { namespace: this.options.store.namespace });
    }
    const { credentials, registered } = await bootstrap(this.options.store, this.options.controlPlane, this.options.registrationToken);
    this.credentials = credentials;
    this.options.logger.info(registered ? 'registered with the control plane' : 'using the stored agent identity', {
      cluster: credentials.identity.cluster,
      keyId: credentials.key.keyId,
    });
    this.desired = await this.options.store.loadDesiredState();
  }

  /** One iteration: check in, reconcile, report. Throws RevokedError; everything else is logged. */
  async runOnce(): Promise<{ checkIn: CheckInResult; reports: AppReport[] }> {
    const started = Date.now();
    const checkIn = await this.checkIn();
    let reports: AppReport[] = [];
    const desired = this.desired;
    if (desired) {
      reports = await this.exclusive(async () => {
        const { state } = desired;
        const result = await this.options.reconciler.reconcileAll(state, (app) => this.reusable(app, state.suspended));
        state.apps.forEach((app, index) => this.remember(app, state.suspended, result[index]!));
        const names = new Set(state.apps.map((app) => app.name));
        for (const name of this.lastReports.keys()) if (!names.has(name)) this.lastReports.delete(name);
        return result;
      });
      if (checkIn === 'unreachable') this.rememberDrift(reports);
      else await this.report(reports);
    }
    this.lastLoopAt = Date.now();
    this.options.metrics.set(AGENT_METRICS.lastLoopTimestamp, {}, Math.floor(this.lastLoopAt / 1000));
    this.options.metrics.inc(AGENT_METRICS.loopSeconds, {}, (Date.now() - started) / 1000);
    return { checkIn, reports };
  }

  /** Runs until stop() or revocation; a revoked cluster ends the loop with RevokedError. */
  async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.runOnce();
      } catch (error) {
        if (error instanceof RevokedError) {
          this.fatalError = error;
          this.options.metrics.set(AGENT_METRICS.revoked, {}, 1);
          this.options.logger.error('cluster revoked by the control plane: the agent stops reconciling', { error: error.message });
          throw error;
        }
        this.options.logger.error('loop iteration failed', { error: messageOf(error) });
      }
      await this.pause(this.nextDelayMs());
    }
    // A drift reconcile in progress finishes (and reports) before the loop is over.
    await this.queue;
  }

  stop(): void {
    this.stopped = true;
    this.pausing?.abort();
    this.options.watcher?.stop();
  }

  /**
   * A watch saw someone else change or delete one of the app's objects: the app alone is reconciled
   * now, with the last desired state (no check-in), and the report sent with the others' last ones.
   */
  async reconcileDrifted(name: string): Promise<void> {
    await this.exclusive(async () => {
      const state = this.desired?.state;
      const app = state?.apps.find((candidate) => candidate.name === name);
      // Before the first loop has reconciled every app, the loop itself is about to do it.
      if (this.stopped || !state || !app || !state.apps.every((candidate) => this.lastReports.has(candidate.name))) return;
      this.options.metrics.inc(AGENT_METRICS.driftReconciles, { app: name });
      this.options.logger.info('an owned object was changed or deleted outside the agent; reconciling its app', { app: name });
      const report = await this.options.reconciler.reconcileApp(app, state.suspended, state.apps);
      this.remember(app, state.suspended, report);
      try {
        await this.report(state.apps.map((candidate) => this.lastReports.get(candidate.name)!.report));
      } catch (error) {
        // Revocation is the loop's to act on, at its next check-in.
        this.options.logger.warn('report after a drift reconcile failed', { app: name, error: messageOf(error) });
      }
    });
  }

  /** The last report, when the app's objects are watched, nothing about it changed and its full check is recent. */
  private reusable(app: DesiredApp, suspended: boolean): AppReport | undefined {
    const { watcher } = this.options;
    const last = this.lastReports.get(app.name);
    if (!watcher || !last || !watcher.covers(app.name)) return undefined;
    if (last.desired !== desiredKey(app, suspended) || Date.now() - last.checkedAt >= (this.options.resyncMs ?? DEFAULT_RESYNC_MS)) return undefined;
    // Anything still converging (health, a retry, a dependency) or drifted is checked every loop.
    if (!(last.report.phase === 'Ready' || last.report.phase === 'Suspended') || last.report.drift.length > 0) return undefined;
    this.options.metrics.inc(AGENT_METRICS.fullChecksSkipped, {});
    return last.report;
  }

  private remember(app: DesiredApp, suspended: boolean, report: AppReport): void {
    const last = this.lastReports.get(app.name);
    // A reused report keeps the time of the check that produced it.
    if (last?.report === report) return;
    this.lastReports.set(app.name, { report, desired: desiredKey(app, suspended), checkedAt: Date.now() });
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => {});
    return run;
  }

  async rotateKey(): Promise<void> {
    if (!this.credentials) throw new Error('agent not started');
    this.credentials = await rotateKey(this.options.store, this.options.controlPlane, this.credentials);
    this.options.logger.info('agent key rotated', { keyId: this.credentials.key.keyId });
  }

  private nextDelayMs(): number {
    // A control plane asking for 0 s must not turn every agent into a busy loop.
    const base = this.options.intervalMs ?? Math.max(5, this.desired?.state.interval ?? 30) * 1000;
    const jitter = this.options.jitter ?? 0.1;
    return Math.max(100, base * (1 - jitter + Math.random() * 2 * jitter));
  }

  private async pause(ms: number): Promise<void> {
    this.pausing = new AbortController();
    // An aborted pause is the end of the loop, not an error.
    await sleep(ms, this.pausing.signal).catch(() => {});
  }

  private async checkIn(): Promise<CheckInResult> {
    const { metrics, logger, controlPlane, store } = this.options;
    const credentials = this.requireCredentials();
    try {
      const heartbeatMs = this.options.heartbeatMs ?? (this.desired?.state.heartbeat ?? 300) * 1000;
      const heartbeat = Date.now() - this.lastHeartbeatAt >= heartbeatMs;
      const result = await this.withKeyRecovery(() => controlPlane.desiredState(credentials.identity, this.requireCredentials().key, this.desired?.etag ?? null, heartbeat));
      if (heartbeat) this.lastHeartbeatAt = Date.now();
      metrics.set(AGENT_METRICS.controlPlaneReachable, {}, 1);
      if (!result.changed) {
        metrics.inc(AGENT_METRICS.checkIns, { result: 'unchanged' });
        return 'unchanged';
      }
      this.desired = { state: result.state, etag: result.etag };
      await store.saveDesiredState(this.desired);
      metrics.inc(AGENT_METRICS.checkIns, { result: 'changed' });
      logger.info('desired state received', { apps: result.state.apps.map((app) => `${app.name}@${app.version}`), suspended: result.state.suspended });
      return 'changed';
    } catch (error) {
      if (error instanceof ControlPlaneError && error.revoked) throw new RevokedError(error.message);
      // Whatever else went wrong (outage, throttling, a rejected signature), the cluster keeps
      // converging on the last desired state it was given.
      metrics.set(AGENT_METRICS.controlPlaneReachable, {}, 0);
      metrics.inc(AGENT_METRICS.checkIns, { result: 'unreachable' });
      if (!this.desired) this.desired = await store.loadDesiredState();
      const transient = !(error instanceof ControlPlaneError) || error.transient;
      logger[transient ? 'warn' : 'error']('check-in failed; reconciling the last desired state persisted in the cluster', {
        error: messageOf(error),
        apps: this.desired?.state.apps.length ?? 0,
      });
      return 'unreachable';
    }
  }

  /** A 401 right after an interrupted rotation: the control plane already trusts the pending key. */
  private async withKeyRecovery<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof ControlPlaneError) || error.status !== 401 || error.revoked) throw error;
      const adopted = await adoptPendingKey(this.options.store, this.requireCredentials());
      if (!adopted) throw error;
      this.credentials = adopted;
      this.options.logger.warn('adopted the key of an interrupted rotation', { keyId: adopted.key.keyId });
      return call();
    }
  }

  /**
   * Sends the report, with any drift found while reports could not be delivered (corrected during
   * an outage, so absent from the current reconcile) folded in: the control plane still hears of it.
   */
  private async report(apps: AppReport[]): Promise<void> {
    const withUndelivered = apps.map((app) => ({ ...app, drift: mergeDrift(this.undeliveredDrift.get(app.name) ?? [], app.drift) }));
    const report = fitReport({ apps: withUndelivered, agentVersion: AGENT_VERSION });
    const body = JSON.stringify(report);
    const resendMs = this.options.reportHeartbeatMs ?? 60 * 60_000;
    if (this.lastReport && this.lastReport.body === body && Date.now() - this.lastReport.sentAt < resendMs) return;
    try {
      const credentials = this.requireCredentials();
      await this.options.controlPlane.report(credentials.identity, credentials.key, report);
      this.lastReport = { body, sentAt: Date.now() };
      this.undeliveredDrift.clear();
      this.options.metrics.inc(AGENT_METRICS.reports, { result: 'sent' });
    } catch (error) {
      if (error instanceof ControlPlaneError && error.revoked) throw new RevokedError(error.message);
      this.rememberDrift(apps);
      this.options.metrics.inc(AGENT_METRICS.reports, { result: 'failed' });
      this.options.logger.warn('report not delivered; it is sent again next time', { error: messageOf(error) });
    }
  }

  private rememberDrift(apps: AppReport[]): void {
    for (const app of apps) {
      if (app.drift.length > 0) this.undeliveredDrift.set(app.name, mergeDrift(this.undeliveredDrift.get(app.name) ?? [], app.drift));
    }
  }

  private requireCredentials(): Credentials {
    if (!this.credentials) throw new Error('agent not started');
    return this.credentials;
  }

  /** The desired state being reconciled, for tests and diagnostics. */
  get desiredState(): DesiredState | null {
    return this.desired?.state ?? null;
  }
}
