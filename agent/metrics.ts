// Prometheus metrics in the text exposition format, written by hand: a handful of counters and
// gauges do not justify a client library.
type Labels = Record<string, string>;

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  series: Map<string, { labels: Labels; value: number }>;
}

function keyOf(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export class Metrics {
  private readonly families = new Map<string, Family>();

  private family(name: string, type: Family['type'], help: string): Family {
    let family = this.families.get(name);
    if (!family) {
      family = { help, type, series: new Map() };
      this.families.set(name, family);
    }
    return family;
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const series = this.family(name, 'counter', help).series;
    const key = keyOf(labels);
    series.set(key, { labels, value: (series.get(key)?.value ?? 0) + by });
  }

  set(name: string, help: string, labels: Labels, value: number): void {
    this.family(name, 'gauge', help).series.set(keyOf(labels), { labels, value });
  }

  /** Drops every series of `name` whose labels include `match` (e.g. an app that was removed). */
  remove(name: string, match: Labels): void {
    const series = this.families.get(name)?.series;
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
