// Prometheus metrics in the text exposition format, written by hand: a handful of counters and
// gauges do not justify a client library. Every metric the agent exports is declared once, at the
// bottom of this file; call sites pass the declaration, never a name or help text of their own.
/** The labels a metric declares, and no others; a metric without labels takes `{}`. */
type Labels<Label extends string> = [Label] extends [never] ? Record<string, never> : Record<Label, string>;

interface Metric<Label extends string> {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  /** Only carries the label names for the type checker. */
  readonly labels?: Label;
}

export interface Counter<Label extends string = never> extends Metric<Label> {
  type: 'counter';
}

export interface Gauge<Label extends string = never> extends Metric<Label> {
  type: 'gauge';
}

export function counter<Label extends string = never>(name: string, help: string): Counter<Label> {
  return { name, type: 'counter', help };
}

export function gauge<Label extends string = never>(name: string, help: string): Gauge<Label> {
  return { name, type: 'gauge', help };
}

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  series: Map<string, { labels: Record<string, string>; value: number }>;
}

function keyOf(labels: Record<string, string>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export class Metrics {
  private readonly families = new Map<string, Family>();

  /** A family appears in the output once it is first written, as Prometheus clients do for labelled series. */
  private family(metric: Metric<string>): Family {
    let family = this.families.get(metric.name);
    if (!family) {
      family = { help: metric.help, type: metric.type, series: new Map() };
      this.families.set(metric.name, family);
    }
    return family;
  }

  inc<Label extends string>(metric: Counter<Label>, labels: Labels<NoInfer<Label>>, by = 1): void {
    const series = this.family(metric).series;
    const key = keyOf(labels);
    series.set(key, { labels, value: (series.get(key)?.value ?? 0) + by });
  }

  set<Label extends string>(metric: Gauge<Label>, labels: Labels<NoInfer<Label>>, value: number): void {
    this.family(metric).series.set(keyOf(labels), { labels, value });
  }

  /** Drops every series of `metric` whose labels include `match` (e.g. an app that was removed). */
  remove<Label extends string>(metric: Metric<Label>, match: Partial<Labels<NoInfer<Label>>>): void {
    const series = this.families.get(metric.name)?.series;
    if (!series) return;
    for (const [key, entry] of series) {
      if (Object.entries(match).every(([label, value]) => entry.labels[label] === value)) series.delete(key);
    }
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, family] of [...this.families].sort(([a], [b]) => (a < b ? -1 : 1))) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      for (const { labels, value } of family.series.values()) {
        const rendered = Object.entries(labels)
          .map(([label, labelValue]) => `${label}="${escapeLabel(labelValue)}"`)
          .join(',');
        lines.push(`${name}${rendered ? `{${rendered}}` : ''} ${value}`);
      }
    }
    return lines.join('\n') + '\n';
  }
}

/** Every metric of the agent (README, "Metrics"). */
export const AGENT_METRICS = {
  reconciles: counter<'app' | 'phase'>('flotilla_agent_reconcile_total', 'Reconciles per app and resulting phase.'),
  reconcileSeconds: counter<'app'>('flotilla_agent_reconcile_duration_seconds_total', 'Time spent reconciling, per app.'),
  appPhase: gauge<'app' | 'phase'>('flotilla_agent_app_phase', 'Current phase of each app (1 for the current one).'),
  driftedObjects: gauge<'app'>('flotilla_agent_app_drifted_objects', 'Objects found drifted in the last reconcile.'),
  objects: counter<'action'>('flotilla_agent_objects_total', 'Objects handled by action (created, configured, unchanged, deleted, skipped).'),
  checkIns: counter<'result'>('flotilla_agent_checkins_total', 'Check-ins by result.'),
  controlPlaneReachable: gauge('flotilla_agent_control_plane_reachable', 'Whether the last check-in reached the control plane.'),
  reports: counter<'result'>('flotilla_agent_reports_total', 'Reports sent by result.'),
  lastLoopTimestamp: gauge('flotilla_agent_last_loop_timestamp_seconds', 'When the last loop iteration finished.'),
  loopSeconds: counter('flotilla_agent_loop_duration_seconds_total', 'Time spent in loop iterations.'),
  watchEvents: counter<'kind' | 'type'>('flotilla_agent_watch_events_total', 'Watch events received, per watched kind and event type.'),
  watchRelists: counter<'kind' | 'reason'>('flotilla_agent_watch_relists_total', 'Lists behind a watch, per kind and reason (start, expired: 410 Gone, error: after a failed watch).'),
  watchErrors: counter<'kind'>('flotilla_agent_watch_errors_total', 'Watches that failed and were retried (or found forbidden), per kind.'),
  watches: gauge('flotilla_agent_watches', 'Watches currently established.'),
  watchedObjects: gauge('flotilla_agent_watched_objects', 'Objects tracked by the watches (app, uid and resourceVersion each).'),
  driftReconciles: counter<'app'>('flotilla_agent_drift_reconciles_total', 'Reconciles of one app asked for by a watch event (a change or deletion the agent did not make).'),
  fullChecksSkipped: counter('flotilla_agent_full_checks_skipped_total', 'Loop reconciles of an app skipped because its objects are watched and its last full check is recent.'),
  revoked: gauge('flotilla_agent_revoked', 'Whether the control plane revoked this cluster (the agent has stopped).'),
} as const;
