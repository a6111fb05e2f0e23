// dependsOn in the agent: apps are reconciled dependencies first, and an app is applied only once
// every app it depends on is Ready at its desired version in this cluster — known from this agent's
// own last reconcile of that app (in this loop, dependencies come first; else the previous loop).
import { dependencyOrder } from '../lib/api/dependencies.ts';
import type { AppReport, DesiredApp, Phase } from '../lib/api/schemas.ts';

export { dependencyOrder };

interface LastOutcome {
  version: string | null;
  digest: string | null;
  phase: Phase;
  reason?: string;
}

export class DependencyTracker {
  private readonly last = new Map<string, LastOutcome>();

  /**
   * Remembers an app's outcome. A suspended reconcile writes nothing, so it leaves what was known
   * (a dependency Ready at its version before a break-glass is still Ready at it).
   */
  record(report: AppReport): void {
    if (report.phase === 'Suspended') return;
    this.last.set(report.name, { version: report.version, digest: report.digest, phase: report.phase, reason: report.reason });
  }

  forget(app: string): void {
    this.last.delete(app);
  }

  /** Forgets every app not in `desired` (an app that left and comes back is not ready until reconciled again). */
  retain(desired: ReadonlySet<string>): void {
    for (const name of this.last.keys()) if (!desired.has(name)) this.last.delete(name);
  }

  /** Null when every dependency is Ready at its desired version; else what the app waits for, one clause per dependency. */
  waitingFor(app: DesiredApp, desired: ReadonlyMap<string, DesiredApp>): string | null {
    const waits: string[] = [];
    for (const name of app.dependsOn ?? []) {
      const dependency = desired.get(name);
      if (!dependency) {
        waits.push(`${name} is missing: it is not desired in this cluster`);
        continue;
      }
      const last = this.last.get(name);
      if (last?.phase === 'Ready' && last.digest === dependency.digest) continue;
      const target = `waiting for ${name} to be Ready at ${dependency.version}`;
      if (!last) waits.push(`${target} (not reconciled yet)`);
      else waits.push(`${target} (it is ${last.phase}${last.version ? ` at ${last.version}` : ''}${last.reason && last.reason !== last.phase ? `: ${last.reason}` : ''})`);
    }
    return waits.length ? `dependency not ready: ${waits.join('; ')}; nothing applied` : null;
  }
}
