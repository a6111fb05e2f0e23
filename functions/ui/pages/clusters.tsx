// The clusters list (a page at a time, by environment and region) and the cluster page: its apps
// with phase and version, last check-in, suspension, and the current drift, live beside desired.
import type { AppReport, Cluster, DriftEntry } from '../../../lib/api/schemas.ts';
import { clusterDrift, getCluster, listClusters } from '../../domain/clusters.ts';
import { cursorParam, may, nameParam, nameQuery, type UiContext } from '../context.ts';
import { ActionForm, Head, RowHead, Field, NextPage, Page, Status, Time, clip, type Tone, type Viewer } from '../layout.tsx';

export const CLUSTERS_PER_PAGE = 25;

const phaseTone = (phase: string): Tone => (phase === 'Ready' ? 'good' : phase === 'Failed' ? 'bad' : 'warn');

export async function clustersPage(c: UiContext) {
  const filters = { environment: nameQuery(c, 'environment'), region: nameQuery(c, 'region'), drifted: nameQuery(c, 'drifted') };
  const page = await listClusters(c.get('services'), { limit: CLUSTERS_PER_PAGE, cursor: cursorParam(c), environment: filters.environment, region: filters.region });
  const shown = filters.drifted ? page.items.filter((cluster) => (cluster.apps[filters.drifted!]?.drifted ?? 0) > 0) : page.items;
  const where = [filters.environment, filters.region].filter(Boolean).join(' / ');
  return c.html(
    <Page title={`Clusters${where ? ` in ${where}` : ''}${filters.drifted ? ` where ${filters.drifted} drifted` : ''}`} viewer={c.get('viewer')}>
      <table>
        <Head columns={['Cluster', 'Environment / region', 'Last check-in', 'State', 'Apps']} />
        <tbody>
          {shown.map((cluster) => (
            <tr>
              <RowHead href={`/ui/clusters/${cluster.name}`}>{cluster.name}</RowHead>
              <td>
                {cluster.environment} / {cluster.region}
              </td>
              <td>
                <Time at={cluster.lastSeen} />
              </td>
              <td>
                <ClusterState cluster={cluster} />
              </td>
              <td>
                {Object.entries(cluster.apps).map(([app, status]) => (
                  <div>
                    {app} <code>{status.version ?? '-'}</code> <Status tone={phaseTone(status.phase)}>{status.phase}</Status>
                    {status.drifted > 0 && <Status tone="warn">{`${status.drifted} drifted`}</Status>}
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && <p class="notice">No clusters on this page match.</p>}
      <NextPage base="/ui/clusters" params={filters} cursor={page.nextCursor} />
    </Page>,
  );
}

function ClusterState({ cluster }: { cluster: Cluster }) {
  if (cluster.revoked) return <Status tone="bad">Revoked</Status>;
  if (!cluster.registered) return <Status tone="idle">Not registered</Status>;
  if (cluster.suspended) return <Status tone="warn">Suspended</Status>;
  if (cluster.stale) return <Status tone="warn">Stale</Status>;
  return <Status tone="good">Checking in</Status>;
}

export async function clusterPage(c: UiContext) {
  const name = nameParam(c, 'cluster');
  const services = c.get('services');
  const [cluster, drift] = await Promise.all([getCluster(services, name), clusterDrift(services, name)]);
  const viewer = c.get('viewer');
  const canSuspend = may(c, 'promote', { environment: cluster.environment });
  const suspensions = [...(cluster.suspended ? [{ app: null, ...cluster.suspended }] : []), ...Object.entries(cluster.suspendedApps).map(([app, s]) => ({ app, ...s }))];
  return c.html(
    <Page title={`Cluster ${cluster.name}`} viewer={viewer}>
      <dl class="record">
        <dt>Environment / region</dt>
        <dd>
          {cluster.environment} / {cluster.region}
        </dd>
        <dt>Labels</dt>
        <dd>
          <code>{Object.entries(cluster.labels).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'}</code>
        </dd>
        <dt>Last check-in</dt>
        <dd>
          <Time at={cluster.lastSeen} /> <ClusterState cluster={cluster} />
        </dd>
        <dt>Last full report</dt>
        <dd>
          <Time at={drift.reportedAt} />
        </dd>
      </dl>

      <h2>Suspension</h2>
      {suspensions.length === 0 ? (
        <p>
          <Status tone="good">Reconciling</Status> nothing is suspended.
        </p>
      ) : (
        <table>
          <Head columns={['What', 'Who', 'Why', 'Since', 'Until']} />
          <tbody>
            {suspensions.map((s) => (
              <tr>
                <td>{s.app ? `app ${s.app}` : 'the whole cluster'}</td>
                <td>{s.by}</td>
                <td>{s.reason}</td>
                <td>
                  <Time at={s.at} />
                </td>
                <td>{s.until ? <Time at={s.until} /> : 'until resumed'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canSuspend && <SuspendForms viewer={viewer} cluster={cluster} />}

      <h2>Apps</h2>
      <table>
        <Head columns={['App', 'Version', 'Phase', 'Drifted objects', 'Reported']} />
        <tbody>
          {Object.entries(cluster.apps).map(([app, status]) => (
            <tr>
              <RowHead href={`/ui/apps/${app}`}>{app}</RowHead>
              <td>
                <code>{status.version ?? '-'}</code>
              </td>
              <td>
                <Status tone={phaseTone(status.phase)}>{status.phase}</Status> {status.reason ?? ''}
              </td>
              <td>{status.drifted}</td>
              <td>
                <Time at={status.at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      <h2>Drift</h2>
      <DriftTables apps={drift.apps} />
      {drift.events.length > 0 && (
        <p>
          <a href={`/ui/events?cluster=${cluster.name}&type=drift.detected`}>Recent drift events of this cluster</a>
        </p>
      )}
    </Page>,
  );
}

function SuspendForms({ viewer, cluster }: { viewer: Viewer; cluster: Cluster }) {
  const apps = Object.keys(cluster.apps);
  return (
    <div>
      <ActionForm viewer={viewer} action="suspend" label="Suspend">
        <input type="hidden" name="cluster" value={cluster.name} />
        <AppChoice apps={apps} />
        <Field label="Until (optional, ISO time)" name="until" placeholder="2026-12-24T00:00:00Z" />
      </ActionForm>
      {(cluster.suspended || Object.keys(cluster.suspendedApps).length > 0) && (
        <ActionForm viewer={viewer} action="resume" label="Resume">
          <input type="hidden" name="cluster" value={cluster.name} />
          <AppChoice apps={apps} />
        </ActionForm>
      )}
    </div>
  );
}

const AppChoice = ({ apps }: { apps: string[] }) => (
  <label>
    App
    <select name="app">
      <option value="">the whole cluster</option>
      {apps.map((app) => (
        <option value={app}>{app}</option>
      ))}
    </select>
  </label>
);

const MASK = '***';
/** Secret values never show, whatever an agent sent: the agent masks them, and so does the page. */
export function shown(object: string, path: string, value: unknown): string {
  if (value === null || value === undefined) return '(absent)';
  // paths are JSON pointers (/data/password); `/` is the whole object
  if (/^Secret\//.test(object) && /^(\/?$|[/.]?(data|stringData)\b)/.test(path)) return MASK;
  return clip(typeof value === 'string' ? value : JSON.stringify(value), 1000);
}

function DriftTables({ apps }: { apps: AppReport[] }) {
  const drifted = apps.filter((app) => app.drift.length > 0);
  if (drifted.length === 0) return <p><Status tone="good">No drift</Status> the latest report shows every object as desired.</p>;
  return (
    <>
      {drifted.map((app) => (
        <table class="drift">
          <caption>
            {app.name}: {app.drift.length} drifted object{app.drift.length === 1 ? '' : 's'}
          </caption>
          <Head columns={['Object', 'Field', 'Live (before)', 'Desired (after)', 'Corrected']} />
          <tbody>
            {app.drift.flatMap((entry: DriftEntry) =>
              entry.fields.map((field, index) => (
                <tr>
                  {index === 0 && <th scope="row" rowspan={entry.fields.length}>{entry.object}</th>}
                  <td>
                    <code>{field.path}</code>
                  </td>
                  <td class="before">
                    <pre>{shown(entry.object, field.path, field.before)}</pre>
                  </td>
                  <td class="after">
                    <pre>{shown(entry.object, field.path, field.after)}</pre>
                  </td>
                  {index === 0 && (
                    <td rowspan={entry.fields.length}>
                      {entry.corrected ? <Status tone="good">corrected</Status> : <Status tone="warn">left in place</Status>}
                    </td>
                  )}
                </tr>
              )),
            )}
          </tbody>
        </table>
      ))}
    </>
  );
}
