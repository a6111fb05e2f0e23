// A rollout: its waves and gates as stored (shown on the app page), and the rollout page with each
// cluster's wave, phase and version, a page of the environment's clusters at a time.
import type { Gate, Rollout } from '../../../lib/api/schemas.ts';
import { parseRolloutId, rolloutProgressPage } from '../../domain/rollouts.ts';
import { badRequest } from '../../errors.ts';
import { cursorParam, may, nameParam, type UiContext } from '../context.ts';
import { ActionForm, Head, NextPage, RowHead, Page, Status, Time, type Tone, type Viewer } from '../layout.tsx';

export const PROGRESS_PER_PAGE = 100;

export function Gates({ gates }: { gates: Gate[] }) {
  if (gates.length === 0) return <></>;
  return (
    <div class="muted">
      Gates:{' '}
      {gates.map((gate) => (
        <>
          <Status tone={gate.passed ? 'good' : gate.overridden ? 'warn' : 'bad'}>{`${gate.name} ${gate.passed ? 'passed' : gate.overridden ? 'overridden' : 'failed'}`}</Status>{' '}
        </>
      ))}
    </div>
  );
}

const rolloutTone = (status: string): Tone => (status === 'completed' ? 'good' : ['halted', 'aborted', 'rolled-back', 'recalled'].includes(status) ? 'bad' : status === 'superseded' ? 'idle' : 'warn');
const waveTone = (status: string): Tone => (status === 'done' ? 'good' : status === 'failed' ? 'bad' : status === 'moving' ? 'warn' : 'idle');
const phaseTone = (phase: string): Tone => (phase === 'Ready' ? 'good' : phase === 'Failed' ? 'bad' : 'warn');

/** The rollout's status, waves and gates, as stored. */
export function RolloutView({ rollout, link = true }: { rollout: Rollout; link?: boolean }) {
  return (
    <section aria-label="Rollout">
      <p>
        <strong>{rollout.id}</strong> to {rollout.environment}: <code>{rollout.fromVersion ?? 'none'}</code> → <code>{rollout.version}</code>{' '}
        <Status tone={rolloutTone(rollout.status)}>{rollout.status}</Status> started by {rollout.actor} (<q>{rollout.reason}</q>) <Time at={rollout.createdAt} />
        {rollout.statusReason ? ` · ${rollout.statusReason}` : ''}
      </p>
      <Gates gates={rollout.gates} />
      <table>
        <Head columns={['Wave', 'Status', 'Targets', 'Soak / deadline']} />
        <tbody>
          {rollout.waves.map((wave) => (
            <tr>
              <th scope="row">{wave.name}</th>
              <td>
                <Status tone={waveTone(wave.status)}>{wave.status}</Status> {wave.failedReason ?? ''}
                {wave.movedAt && (
                  <div>
                    moved <Time at={wave.movedAt} />
                  </div>
                )}
              </td>
              <td>{wave.regions ? `regions ${wave.regions.join(', ')}` : wave.selector ? Object.entries(wave.selector).map(([k, v]) => `${k}=${v}`).join(', ') : 'all'}</td>
              <td>
                {wave.soakSeconds}s / {wave.deadlineSeconds ? `${wave.deadlineSeconds}s` : 'none'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {link && (
        <p>
          <a href={`/ui/apps/${rollout.app}/rollouts/${rollout.id}`}>Per-cluster progress of {rollout.id}</a>
        </p>
      )}
    </section>
  );
}

export async function rolloutPage(c: UiContext) {
  const app = nameParam(c, 'app');
  const id = parseRolloutId(c.req.param('rollout') ?? '');
  if (!id) throw badRequest('rollout: must be a rollout id such as prod-3');
  const { rollout, items, nextCursor } = await rolloutProgressPage(c.get('services'), app, id.environment, id.seq, { limit: PROGRESS_PER_PAGE, cursor: cursorParam(c) });
  return c.html(
    <Page title={`Rollout ${rollout.id} of ${app}`} viewer={c.get('viewer')}>
      <RolloutView rollout={rollout} link={false} />
      {may(c, 'promote', { app, environment: rollout.environment }) && <RolloutActions viewer={c.get('viewer')} rollout={rollout} />}
      <h2>Clusters of {rollout.environment}: wave, version and phase</h2>
      <table>
        <Head columns={['Cluster', 'Wave', 'Version', 'Phase']} />
        <tbody>
          {items.map((entry) => (
            <tr>
              <RowHead href={`/ui/clusters/${entry.cluster}`}>{entry.cluster}</RowHead>
              <td>{entry.wave ?? '(no wave)'}</td>
              <td>
                <code>{entry.version ?? '-'}</code>
              </td>
              <td>
                <Status tone={phaseTone(entry.phase)}>{entry.phase}</Status>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {items.length === 0 && <p class="notice">No clusters of the environment run the app on this page.</p>}
      <NextPage base={`/ui/apps/${app}/rollouts/${rollout.id}`} params={{}} cursor={nextCursor} label="More clusters →" />
      <p>
        <a href={`/ui/apps/${app}`}>Back to {app}</a>
      </p>
    </Page>,
  );
}

/** Pause a running rollout, resume a paused one, abort either (the API refuses the others with a 409). */
function RolloutActions({ viewer, rollout }: { viewer: Viewer; rollout: Rollout }) {
  const verbs = rollout.status === 'running' ? ['pause', 'abort'] : rollout.status === 'paused' ? ['resume', 'abort'] : [];
  return (
    <>
      {verbs.map((verb) => (
        <ActionForm viewer={viewer} action={verb} label={`${verb[0]!.toUpperCase()}${verb.slice(1)} the rollout`}>
          <input type="hidden" name="app" value={rollout.app} />
          <input type="hidden" name="rollout" value={rollout.id} />
        </ActionForm>
      ))}
    </>
  );
}
