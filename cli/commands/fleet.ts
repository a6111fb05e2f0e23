// Fleet: status, clusters, drift, events.
import type { AppStatusSummary, Cluster, Event } from '../../lib/api/schemas.ts';
import { APP_OPTION, ENV_OPTION, command, last, need, type Command } from '../command.ts';
import { ago, counts, driftLines, table } from '../format.ts';

const agentState = (c: Cluster) => (c.revoked ? 'revoked' : c.registered ? 'registered' : 'not registered');
const suspensionState = (c: Cluster) => (c.suspended ? `yes: ${c.suspended.reason}` : Object.keys(c.suspendedApps).join(',') || 'no');
const appState = ([name, s]: [string, AppStatusSummary]) => `${name}@${s.version ?? '?'} ${s.phase}${s.drifted ? ` drift:${s.drifted}` : ''}`;

export const fleetCommands: Record<string, Command> = {
  status: command({}, async ({ api, print }) => {
    const fleet = await api.fleet();
    print(
      table(
        ['APP', 'ENV', 'REGION', 'DESIRED', 'CLUSTERS', 'PHASES', 'RUNNING', 'DRIFTED', 'STALE'],
        fleet.cells.map((c) => [c.app, c.environment, c.region, c.desiredVersion, c.clusters, counts(c.phases), counts(c.versions), c.drifted, c.stale]),
      ),
      fleet,
    );
  }),

  clusters: command({}, async ({ api, print }) => {
    const { items } = await api.clusters();
    print(
      table(
        ['NAME', 'ENV', 'REGION', 'AGENT', 'LAST SEEN', 'SUSPENDED', 'APPS'],
        items.map((c) => [
          c.name,
          c.environment,
          c.region,
          agentState(c),
          `${ago(c.lastSeen)}${c.stale ? ' (stale)' : ''}`,
          suspensionState(c),
          Object.entries(c.apps).map(appState).join(', '),
        ]),
      ),
      items,
    );
  }),

  drift: command({}, async ({ api, args, print }) => {
    const drift = await api.clusterDrift(need(args[0], '<cluster>'));
    const current = drift.apps.flatMap((app) =>
      app.drift.length ? [`${app.name}@${app.version ?? '?'} (${app.phase})`, ...driftLines(app.drift)] : [],
    );
    const recent = drift.events.map((e) => `${e.at} ${e.type} ${e.data?.object ?? ''}`);
    print(
      [
        `cluster ${drift.cluster}, last report ${ago(drift.reportedAt)}`,
        current.length ? `current drift:\n${current.join('\n')}` : 'no current drift',
        recent.length ? `recent drift events:\n${recent.map((l) => `  ${l}`).join('\n')}` : 'no recent drift events',
      ].join('\n'),
      drift,
    );
  }),

  events: command(
    { ...APP_OPTION, ...ENV_OPTION, cluster: { type: 'string' }, type: { type: 'string' }, limit: { type: 'string' }, all: { type: 'boolean' } },
    async ({ api, values, print }) => {
      // the newest events, shown oldest first
      const query = new URLSearchParams({ order: 'desc', limit: values.limit ?? '100' });
      const app = last(values.app);
      const env = last(values.env);
      if (app !== undefined) query.set('app', app);
      if (env !== undefined) query.set('environment', env);
      if (values.cluster) query.set('cluster', values.cluster);
      if (values.type) query.set('type', values.type);
      // --all follows the cursors through the whole window (an audit export); otherwise one page.
      const items: Event[] = [];
      for (let cursor: string | null = null; ; ) {
        const page = await api.events(query, cursor);
        items.push(...page.items);
        cursor = page.nextCursor;
        if (!values.all || !cursor) break;
      }
      items.reverse();
      print(table(['TIME', 'TYPE', 'ACTOR', 'MESSAGE'], items.map((e) => [e.at, e.type, e.actor, e.message])), items);
    },
  ),
};
