// The Slack message of an event: Block Kit (header, section with the facts, context, a button to
// the dashboard page when there is one) cut to Slack's published limits, with a plain-text
// fallback for notifications. https://api.slack.com/reference/block-kit/blocks
import type { Event } from '../../lib/api/schemas.ts';
import { severityOf } from '../../lib/api/notifications.ts';

/** Slack's limits (Block Kit reference): what the builder cuts to. */
export const SLACK_LIMITS = {
  blocks: 50,
  headerText: 150,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  contextElements: 10,
  buttonText: 75,
  buttonUrl: 3000,
  actionId: 255,
  fallbackText: 3000,
} as const;

const MARK = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' } as const;

/** Cuts to `max` characters with an ellipsis (by code point, so no surrogate is split). */
export function cut(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max - 1).join('') + '…';
}

/** mrkdwn treats &, < and > as control characters: they are escaped. */
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const mrkdwn = (text: string, max: number) => ({ type: 'mrkdwn', text: cut(escape(text), max) });

export function slackMessage(event: Event, dashboardUrl: string | null): Record<string, unknown> {
  const severity = severityOf(event.type);
  const candidates: [string, unknown][] = [
    ['App', event.app],
    ['Environment', event.environment],
    ['Region', event.region],
    ['Cluster', event.cluster],
    ['Version', event.data?.version ?? event.data?.toVersion],
  ];
  const facts = candidates.filter((fact): fact is [string, string] => typeof fact[1] === 'string' && fact[1] !== '');
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(`${event.type}${event.app ? `: ${event.app}` : ''}`, SLACK_LIMITS.headerText), emoji: true } },
    {
      type: 'section',
      text: mrkdwn(`${MARK[severity]} ${event.message}`, SLACK_LIMITS.sectionText),
      ...(facts.length ? { fields: facts.slice(0, SLACK_LIMITS.sectionFields).map(([name, value]) => mrkdwn(`*${name}*\n${value}`, SLACK_LIMITS.fieldText)) } : {}),
    },
    { type: 'context', elements: [mrkdwn(`${severity} · ${event.at} · by ${event.actor}`, SLACK_LIMITS.sectionText)] },
  ];
  if (dashboardUrl && dashboardUrl.length <= SLACK_LIMITS.buttonUrl) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in Flotilla' }, url: dashboardUrl, action_id: 'open-dashboard' }],
    });
  }
  return { text: cut(`${event.type}: ${event.message}`, SLACK_LIMITS.fallbackText), blocks };
}
