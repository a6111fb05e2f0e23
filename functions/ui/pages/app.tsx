// The app page: releases (blocked, recalled), the promotion history as a timeline with actors and
// reasons, the current rollout with its waves, gates and per-cluster progress; and the actions a
// promoter may take on them (promote, roll back, block / recall / unblock, approve).
import type { PromotionRecord, Release } from '../../../lib/api/schemas.ts';
import { listReleases, requireApp } from '../../domain/apps.ts';
import { listEnvironments } from '../../domain/environments.ts';
import { listPromotions } from '../../domain/promotions.ts';
import { listRollouts } from '../../domain/rollouts.ts';
import { cursorParam, may, nameParam, type UiContext } from '../context.ts';
import { ActionForm, Field, Head, RowHead, NextPage, Page, Select, Status, Time, type Viewer } from '../layout.tsx';
import { Gates, RolloutView } from './rollout.tsx';

export const RELEASES_PER_PAGE = 20;
export const PROMOTIONS_PER_PAGE = 50;
const ACTIVE = new Set(['running', 'paused', 'halted']);

export async function appPage(c: UiContext) {
  const name = nameParam(c, 'app');
  const services = c.get('services');
  const app = await requireApp(services, name);
  const releaseCursor = cursorParam(c, 'releases');
  const promotionCursor = cursorParam(c, 'promotions');
  const [releases, promotions, rollouts, environments] = await Promise.all([
    listReleases(services, name, { limit: RELEASES_PER_PAGE, cursor: releaseCursor }),
    listPromotions(services, name, { limit: PROMOTIONS_PER_PAGE, cursor: promotionCursor }),
    listRollouts(services, name),
    listEnvironments(services, { limit: 100 }),
  ]);
  const current = rollouts.find((rollout) => ACTIVE.has(rollout.status)) ?? rollouts[0];
  const viewer = c.get('viewer');
  const promotable = environments.items.map((env) => env.name).filter((environment) => may(c, 'promote', { app: name, environment }));
  const versions = releases.items.map((release) => release.version);
  return c.html(
    <Page title={`App ${name}`} viewer={viewer}>
      <p class="muted">
        <code>{app.repository}</code> → namespace <code>{app.namespace}</code>
      </p>
      {promotable.length > 0 && <Moves viewer={viewer} app={name} environments={promotable} versions={versions} />}

      <h2>Current rollout</h2>
      {current ? <RolloutView rollout={current} /> : <p class="notice">No rollout yet: promotions into environments with waves start one.</p>}

      <h2>Releases</h2>
      <Releases releases={releases.items} />
      <NextPage base={`/ui/apps/${name}`} params={{ promotions: promotionCursor }} cursorName="releases" cursor={releases.nextCursor} label="Older releases →" />
      {may(c, 'promote', { app: name }) || promotable.length > 0 ? <ReleaseActions viewer={viewer} app={name} versions={versions} environments={promotable} /> : null}

      <h2>Promotion history</h2>
      <Timeline records={promotions.items} />
      <NextPage base={`/ui/apps/${name}`} params={{ releases: releaseCursor }} cursorName="promotions" cursor={promotions.nextCursor} label="Later promotions →" />
    </Page>,
  );
}

function Moves(props: { viewer: Viewer; app: string; environments: string[]; versions: string[] }) {
  return (
    <section aria-label="Promote or roll back">
      <ActionForm viewer={props.viewer} action="promote" label="Promote">
        <input type="hidden" name="app" value={props.app} />
        <Select label="Environment" name="environment" options={props.environments} />
        <Select label="Version" name="version" options={props.versions} />
        <Field label="Region (optional)" name="region" />
      </ActionForm>
      <ActionForm viewer={props.viewer} action="rollback" label="Roll back">
        <input type="hidden" name="app" value={props.app} />
        <Select label="Environment" name="environment" options={props.environments} />
        <Field label="Region (optional)" name="region" />
      </ActionForm>
    </section>
  );
}

function ReleaseActions(props: { viewer: Viewer; app: string; versions: string[]; environments: string[] }) {
  if (props.versions.length === 0) return <></>;
  return (
    <section aria-label="Release actions">
      <ActionForm viewer={props.viewer} action="block" label="Block">
        <input type="hidden" name="app" value={props.app} />
        <Select label="Version" name="version" options={props.versions} />
        <label>
          Recall (move every pin holding it back)
          <input type="checkbox" name="recall" value="true" />
        </label>
      </ActionForm>
      <ActionForm viewer={props.viewer} action="unblock" label="Unblock">
        <input type="hidden" name="app" value={props.app} />
        <Select label="Version" name="version" options={props.versions} />
      </ActionForm>
      {props.environments.length > 0 && (
        <ActionForm viewer={props.viewer} action="approve" label="Approve">
          <input type="hidden" name="app" value={props.app} />
          <Select label="Version" name="version" options={props.versions} />
          <Select label="For environment" name="environment" options={props.environments} />
        </ActionForm>
      )}
    </section>
  );
}

function Releases({ releases }: { releases: Release[] }) {
  if (releases.length === 0) return <p class="notice">No releases yet.</p>;
  return (
    <table>
      <Head columns={['Version', 'State', 'Published', 'Digest']} />
      <tbody>
        {releases.map((release) => (
          <tr>
            <RowHead>
              <code>{release.version}</code>
            </RowHead>
            <td>
              {release.recalled ? (
                <Status tone="bad">{`Recalled by ${release.recalled.by}: ${release.recalled.reason}`}</Status>
              ) : release.blocked ? (
                <Status tone="bad">{`Blocked by ${release.blocked.by}: ${release.blocked.reason}`}</Status>
              ) : (
                <Status tone="good">Available</Status>
              )}
            </td>
            <td>
              {release.publishedBy}, <Time at={release.publishedAt} />
            </td>
            <td>
              <code>{release.digest.slice(0, 19)}…</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const KIND: Record<string, string> = { promote: 'promoted', rollback: 'rolled back', auto: 'tracked', 'break-glass': 'broke glass' };

function Timeline({ records }: { records: PromotionRecord[] }) {
  if (records.length === 0) return <p class="notice">No promotions yet.</p>;
  return (
    <ol class="timeline">
      {records.map((record) => (
        <li>
          <Time at={record.at} /> <strong>{record.actor}</strong> {KIND[record.kind] ?? record.kind} {record.environment}
          {record.region ? `/${record.region}` : ''}
          {record.group ? ` (wave ${record.group})` : ''}: <code>{record.fromVersion ?? 'none'}</code> → <code>{record.toVersion}</code>
          <div>
            Reason: <q>{record.reason}</q>
            {record.rollout ? ` · rollout ${record.rollout}` : ''}
          </div>
          <Gates gates={record.gates} />
        </li>
      ))}
    </ol>
  );
}

