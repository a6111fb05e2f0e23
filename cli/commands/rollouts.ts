// Progressive delivery: rollout status|pause|resume|abort, approve, freeze, unfreeze.
import type { FreezeState, Rollout } from '../../lib/api/schemas.ts';
import { ENV_OPTION, REASON_OPTION, UNTIL_OPTION, command, last, need, one, withVerbs, type Command } from '../command.ts';
import { CliError } from '../errors.ts';
import { ago, rolloutStage, table } from '../format.ts';

const rolloutLine = (r: Rollout) => `rollout ${r.id} of ${r.app} in ${r.environment}: ${r.fromVersion ?? 'nothing'} → ${r.version}, ${r.status}`;
const when = (iso: string | undefined) => (iso ? ago(iso) : null);

function rolloutReport(r: Rollout): string {
  return [
    // A stopped rollout's waves stay as they were: where it stood says nothing more than its status.
    `${rolloutLine(r)}${r.status === 'running' || r.status === 'paused' ? ` (${rolloutStage(r)})` : ''}`,
    `started by ${r.actor} ${ago(r.createdAt)}: ${r.reason}${r.statusReason ? `\nlast: ${r.statusReason}` : ''}`,
    '',
    table(
      ['WAVE', 'STATUS', 'MOVED'],
      r.waves.map((w) => [w.name, w.failedReason ? `${w.status}: ${w.failedReason}` : w.status, when(w.movedAt)]),
    ),
    '',
    table(
      ['GATE', 'PASSED', 'DETAIL', 'OVERRIDDEN'],
      r.gates.map((g) => [g.name, g.passed ? 'yes' : 'no', g.detail, g.overridden]),
    ),
    '',
    table(
      ['CLUSTER', 'WAVE', 'PHASE', 'VERSION', 'SOAKED'],
      (r.progress ?? []).map((p) => [p.cluster, p.wave, p.phase, p.version, when(p.soakedAt)]),
    ),
  ].join('\n');
}

/** The environment of a rollout id `<environment>-<n>`. */
const environmentOf = (id: string) => id.slice(0, id.lastIndexOf('-'));

const freezeLine = ({ freeze }: FreezeState) =>
  freeze ? `frozen by ${freeze.by} since ${freeze.at}${freeze.until ? ` until ${freeze.until}` : ''}: ${freeze.reason}` : 'not frozen';

const rolloutAction = (action: 'pause' | 'resume' | 'abort') =>
  command({ ...REASON_OPTION }, async ({ api, values, args, print }) => {
    const app = need(args[0], '<app>');
    const rollout = await api.setRolloutStatus(app, need(args[1], '<rollout-id>'), action, { reason: need(values.reason, '--reason') });
    print(rolloutLine(rollout), rollout);
  });

export const rolloutCommands: Record<string, Command> = {
  rollout: withVerbs('usage: flotilla rollout status <app> [--env ENV] [<rollout-id>] | rollout pause|resume|abort <app> <rollout-id> --reason R', {
    status: command({ ...ENV_OPTION }, async ({ api, values, args, print }) => {
      const app = need(args[0], '<app>');
      const env = last(values.env);
      let id = args[1];
      if (id !== undefined && env !== undefined && environmentOf(id) !== env) {
        throw new CliError(`rollout ${id} is not in environment ${env}`, 2);
      }
      if (id === undefined) {
        // The list is newest first and without progress: read the newest one whole.
        const newest = (await api.rollouts(app, env)).items[0];
        if (!newest) throw new CliError(`${app} has no rollouts${env !== undefined ? ` in ${env}` : ''}`, 4);
        id = newest.id;
      }
      const rollout = await api.getRollout(app, id);
      print(rolloutReport(rollout), rollout);
    }),
    pause: rolloutAction('pause'),
    resume: rolloutAction('resume'),
    abort: rolloutAction('abort'),
  }),

  approve: command({ ...ENV_OPTION, ...REASON_OPTION }, async ({ api, values, args, print }) => {
    const app = need(args[0], '<app>');
    const approval = await api.approve(app, need(args[1], '<version>'), {
      environment: one(values.env, '--env'),
      reason: need(values.reason, '--reason'),
    });
    print(`${approval.app}@${approval.version} approved for ${approval.environment} by ${approval.actor}: ${approval.reason}`, approval);
  }),

  // `freeze` shows the freeze; with --reason it freezes (until lifted, or --until).
  freeze: command({ ...REASON_OPTION, ...UNTIL_OPTION }, async ({ api, values, print }) => {
    const show = values.reason === undefined && values.until === undefined;
    const state = show
      ? await api.getFreeze()
      : await api.freeze({ reason: need(values.reason, '--reason'), ...(values.until ? { until: values.until } : {}) });
    print(freezeLine(state), state);
  }),

  unfreeze: command({ ...REASON_OPTION }, async ({ api, values, print }) => {
    const state = await api.unfreeze({ reason: need(values.reason, '--reason') });
    print(freezeLine(state), state);
  }),
};
