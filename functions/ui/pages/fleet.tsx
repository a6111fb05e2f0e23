// The fleet page: the app × environment × region matrix (a page of apps at a time, from the fleet
// aggregate: its cost is the number of cells, not of clusters) and the org-wide freeze.
import type { Environment, FleetCell, FreezeState } from '../../../lib/api/schemas.ts';
import { listApps } from '../../domain/apps.ts';
import { listEnvironments } from '../../domain/environments.ts';
import { fleetView } from '../../domain/fleet.ts';
import { getFreeze } from '../../domain/freeze.ts';
import { cursorParam, may, type UiContext } from '../context.ts';
import { ActionForm, Field, NextPage, Page, Status, Time, type Tone, type Viewer } from '../layout.tsx';

export const FLEET_APPS_PER_PAGE = 20;

export async function fleetPage(c: UiContext) {
  const services = c.get('services');
  const cursor = cursorParam(c);
  const [apps, environments, freeze] = await Promise.all([
    listApps(services, { limit: FLEET_APPS_PER_PAGE, cursor }),
    listEnvironments(services, { limit: 100 }),
    getFreeze(services),
  ]);
  const fleet = await fleetView(services, { apps: new Set(apps.items.map((app) => app.name)), rolloutsWhereWaves: true });
  const viewer = c.get('viewer');
  return c.html(
    <Page title="Fleet" viewer={viewer}>
      <FreezePanel freeze={freeze} viewer={viewer} canFreeze={may(c, 'promote')} />
      <Matrix apps={apps.items.map((app) => app.name)} environments={[...new Set([...ordered(environments.items), ...fleet.cells.map((cell) => cell.environment)])]} cells={fleet.cells} />
      <p class="muted">
        Generated <Time at={fleet.generatedAt} />. Counts move as agents report; the clock recounts them.
      </p>
      <NextPage base="/ui" params={{}} cursor={apps.nextCursor} label="More apps →" />
    </Page>,
  );
}

/** Environments upstream first (dev before prod), then by name. */
function ordered(environments: Environment[]): string[] {
  const byName = new Map(environments.map((env) => [env.name, env]));
  const depth = (env: Environment, seen = new Set<string>()): number => {
    const upstream = env.upstream ? byName.get(env.upstream) : undefined;
    if (!upstream || seen.has(env.name)) return 0;
    seen.add(env.name);
    return 1 + depth(upstream, seen);
  };
  return environments.sort((a, b) => depth(a) - depth(b) || a.name.localeCompare(b.name)).map((env) => env.name);
}

function Matrix(props: { apps: string[]; environments: string[]; cells: FleetCell[] }) {
  const columns = props.environments.flatMap((environment) =>
    [...new Set(props.cells.filter((cell) => cell.environment === environment).map((cell) => cell.region))].sort().map((region) => ({ environment, region })),
  );
  const cells = new Map(props.cells.map((cell) => [`${cell.app}/${cell.environment}/${cell.region}`, cell]));
  if (props.apps.length === 0) return <p class="notice">No apps yet. Create one with PUT /v1/apps/&#123;app&#125; (see API docs).</p>;
  return (
    <table class="matrix">
      <caption class="muted">Apps by environment and region: desired and running versions, clusters by phase, drift, staleness, rollout</caption>
      <thead>
        <tr>
          <th rowspan={2} scope="col">App</th>
          {props.environments
            .map((environment) => ({ environment, span: columns.filter((column) => column.environment === environment).length }))
            .filter((group) => group.span > 0)
            .map((group) => (
              <th colspan={group.span} scope="colgroup">
                {group.environment}
              </th>
            ))}
        </tr>
        <tr>
          {columns.map((column) => (
            <th scope="col">{column.region}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.apps.map((app) => (
          <tr>
            <th scope="row">
              <a href={`/ui/apps/${app}`}>{app}</a>
            </th>
            {columns.map((column) => {
              const cell = cells.get(`${app}/${column.environment}/${column.region}`);
              return cell ? <Cell cell={cell} /> : <td class="muted">not deployed</td>;
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The one word a cell is summed up by, worst first. */
export function cellState(cell: FleetCell): { tone: Tone; word: string } {
  if ((cell.phases.Failed ?? 0) > 0) return { tone: 'bad', word: 'Failing' };
  if (cell.drifted > 0) return { tone: 'warn', word: 'Drifted' };
  if (cell.stale > 0) return { tone: 'warn', word: 'Stale' };
  if (cell.clusters === 0) return { tone: 'idle', word: 'No clusters' };
  if ((cell.phases.Pending ?? 0) === cell.clusters) return { tone: 'warn', word: 'Not reported yet' };
  if ((cell.phases.Ready ?? 0) < cell.clusters) return { tone: 'warn', word: 'Progressing' };
  return { tone: 'good', word: 'Healthy' };
}

const counts = (record: Record<string, number>, format = (key: string, n: number) => `${key} ${n}`) =>
  Object.entries(record)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => format(key, n))
    .join(' · ');

function Cell({ cell }: { cell: FleetCell }) {
  const state = cellState(cell);
  const clusters = `/ui/clusters?environment=${cell.environment}&region=${cell.region}`;
  return (
    <td class="cell">
      <Status tone={state.tone}>{state.word}</Status>
      <div>
        desired <code>{cell.desiredVersion ?? 'none'}</code>
      </div>
      {Object.keys(cell.versions).length > 0 && <div>running {counts(cell.versions, (version, n) => `${version} (${n})`)}</div>}
      <div>
        <a href={clusters}>{`${cell.clusters} cluster${cell.clusters === 1 ? '' : 's'}`}</a>
        {cell.clusters > 0 && `: ${counts(cell.phases)}`}
      </div>
      {(cell.drifted > 0 || cell.stale > 0) && (
        <div>
          {cell.drifted > 0 && <a href={`${clusters}&drifted=${cell.app}`}>{`${cell.drifted} drifted`}</a>}
          {cell.drifted > 0 && cell.stale > 0 && ' · '}
          {cell.stale > 0 && `${cell.stale} stale`}
        </div>
      )}
      {cell.rollout && (
        <div>
          rollout <a href={`/ui/apps/${cell.app}/rollouts/${cell.rollout.id}`}>{cell.rollout.id}</a> {cell.rollout.status}
        </div>
      )}
    </td>
  );
}

function FreezePanel(props: { freeze: FreezeState; viewer: Viewer; canFreeze: boolean }) {
  const { freeze } = props.freeze;
  return (
    <section aria-label="Freeze">
      {freeze ? (
        <p class="error">
          <Status tone="bad">Frozen</Status> by {freeze.by} at <Time at={freeze.at} />: {freeze.reason}
          {freeze.until ? <> (until <Time at={freeze.until} />)</> : ' (until lifted)'}
        </p>
      ) : (
        <p>
          <Status tone="good">Not frozen</Status> promotions and waves move normally.
        </p>
      )}
      {props.canFreeze &&
        (freeze ? (
          <ActionForm viewer={props.viewer} action="unfreeze" label="Lift the freeze" />
        ) : (
          <ActionForm viewer={props.viewer} action="freeze" label="Freeze every environment">
            <Field label="Until (optional, ISO time)" name="until" placeholder="2026-12-24T00:00:00Z" />
          </ActionForm>
        ))}
    </section>
  );
}
