// Promotion: promote, rollback, history.
import type { PromotionRecord } from '../../lib/api/schemas.ts';
import { ENV_OPTION, REASON_OPTION, REGION_OPTION, command, last, need, one, type Command } from '../command.ts';
import { rolloutStage, table } from '../format.ts';

const promotionLine = (r: PromotionRecord) =>
  `${r.kind} ${r.app} ${r.environment}${r.region ? `/${r.region}` : ''}: ${r.fromVersion ?? 'nothing'} → ${r.toVersion} (#${r.seq} by ${r.actor})`;

export const promotionCommands: Record<string, Command> = {
  promote: command({ to: { type: 'string' }, ...REGION_OPTION, ...REASON_OPTION, override: { type: 'string' } }, async ({ api, values, args, print }) => {
    const app = need(args[0], '<app>');
    const result = await api.promote(app, {
      environment: need(values.to, '--to'),
      version: need(args[1], '<version>'),
      region: values.region,
      reason: need(values.reason, '--reason'),
      // Break-glass: through failed gates, for this reason (recorded on the gates it overrides).
      ...(values.override !== undefined ? { override: values.override } : {}),
    });
    // Into an environment with waves the control plane starts a rollout instead of writing a record.
    if ('rollout' in result) print(`rollout ${result.rollout.id} started: ${rolloutStage(result.rollout)}`, result.rollout);
    else print(promotionLine(result.record), result.record);
  }),

  rollback: command({ ...ENV_OPTION, ...REGION_OPTION, ...REASON_OPTION }, async ({ api, values, args, print }) => {
    const app = need(args[0], '<app>');
    const record = await api.rollback(app, {
      environment: one(values.env, '--env'),
      region: values.region,
      reason: need(values.reason, '--reason'),
    });
    print(promotionLine(record), record);
  }),

  history: command({ ...ENV_OPTION, ...REGION_OPTION }, async ({ api, values, args, print }) => {
    const query = new URLSearchParams();
    const env = last(values.env);
    if (env !== undefined) query.set('environment', env);
    if (values.region) query.set('region', values.region);
    const { items } = await api.promotions(need(args[0], '<app>'), query);
    print(
      table(
        ['TIME', 'ENV', 'REGION', 'KIND', 'FROM', 'TO', 'ACTOR', 'REASON'],
        items.map((r) => [r.at, r.environment, r.region ?? '*', r.kind, r.fromVersion, r.toVersion, r.actor, r.reason]),
      ),
      items,
    );
  }),
};
