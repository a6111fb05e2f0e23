// Notifications (admin): notify create|list|test|deliveries|redeliver|rotate|delete.
import { readFile } from 'node:fs/promises';
import type { Delivery, DestinationInput, Subscription } from '../../lib/api/notifications.ts';
import type { ApiClient } from '../api.ts';
import { APP_OPTION, ENV_OPTION, command, need, withVerbs, type Command } from '../command.ts';
import { CliError } from '../errors.ts';
import { table } from '../format.ts';

/** How long `notify test` waits for the first attempt's outcome. */
const TEST_WAIT_MS = 20_000;

/** `a,b` and repeated options alike; undefined when none is given. */
function listOf(values: string | string[] | undefined): string[] | undefined {
  const all = (Array.isArray(values) ? values : values === undefined ? [] : [values]).flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
  return all.length ? all : undefined;
}

/** The GitHub token: FLOTILLA_GITHUB_TOKEN or --github-token-file (never an argument, which `ps` shows). */
async function githubToken(file: string | undefined): Promise<string> {
  if (file !== undefined) {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (err) {
      throw new CliError(`cannot read --github-token-file ${file}: ${(err as Error).message}`, 2);
    }
  }
  const token = process.env.FLOTILLA_GITHUB_TOKEN;
  if (!token) throw new CliError('--github needs a token: set FLOTILLA_GITHUB_TOKEN or pass --github-token-file FILE', 2);
  return token;
}

const DESTINATION_OPTIONS = {
  webhook: { type: 'string' },
  slack: { type: 'string' },
  github: { type: 'boolean' },
  'github-token-file': { type: 'string' },
  'github-api': { type: 'string' },
  context: { type: 'string' },
} as const;

async function destinationOf(values: { webhook?: string; slack?: string; github?: boolean; 'github-token-file'?: string; 'github-api'?: string; context?: string }): Promise<DestinationInput> {
  const chosen = [values.webhook !== undefined, values.slack !== undefined, values.github === true].filter(Boolean).length;
  if (chosen !== 1) throw new CliError('give one destination: --webhook URL, --slack URL or --github', 2);
  if (values.webhook !== undefined) return { type: 'webhook', url: values.webhook };
  if (values.slack !== undefined) return { type: 'slack', url: values.slack };
  return {
    type: 'github',
    token: await githubToken(values['github-token-file']),
    apiUrl: values['github-api'] ?? 'https://api.github.com',
    ...(values.context ? { context: values.context } : {}),
  };
}

function describeDestination(subscription: Subscription): string {
  const destination = subscription.destination;
  if (destination.type === 'webhook') return `webhook ${destination.url}`;
  if (destination.type === 'slack') return `slack ${destination.host}`;
  return `github ${destination.apiUrl}${destination.context ? ` (${destination.context})` : ''}`;
}

function describeFilter(subscription: Subscription): string {
  const { types, apps, environments, clusters, severity } = subscription.filter;
  const parts = [types?.join(',') ?? 'every type', apps && `apps ${apps.join(',')}`, environments && `envs ${environments.join(',')}`, clusters && `clusters ${clusters.join(',')}`, severity && `≥ ${severity}`];
  return parts.filter(Boolean).join('; ');
}

function describeAttempt(delivery: Delivery): string {
  const last = delivery.attempts.at(-1);
  if (!last) return 'not attempted yet';
  const outcome = last.outcome === 'delivered' ? `delivered (${last.statusCode})` : last.outcome === 'in-flight' ? 'in flight' : `failed: ${last.error ?? last.statusCode}`;
  return `${outcome}${last.latencyMs !== null ? ` in ${Math.round(last.latencyMs)} ms` : ''}`;
}

/** Polls the test delivery until its first attempt has an outcome. */
async function firstOutcome(api: ApiClient, id: string, delivery: Delivery): Promise<Delivery> {
  const deadline = Date.now() + TEST_WAIT_MS;
  let current = delivery;
  while (Date.now() < deadline) {
    const attempt = current.attempts[0];
    if (attempt && attempt.outcome !== 'in-flight') return current;
    await new Promise((wait) => setTimeout(wait, 250));
    current = await api.getDelivery(id, delivery.id);
  }
  return current;
}

export const notifyCommands: Record<string, Command> = {
  notify: withVerbs('usage: flotilla notify create|list|test|deliveries|redeliver|rotate|delete', {
    create: command(
      { ...DESTINATION_OPTIONS, ...APP_OPTION, ...ENV_OPTION, type: { type: 'string' }, cluster: { type: 'string' }, severity: { type: 'string' }, name: { type: 'string' } },
      async ({ api, values, print }) => {
        const filter = {
          ...(listOf(values.type) ? { types: listOf(values.type) } : {}),
          ...(listOf(values.app) ? { apps: listOf(values.app) } : {}),
          ...(listOf(values.env) ? { environments: listOf(values.env) } : {}),
          ...(listOf(values.cluster) ? { clusters: listOf(values.cluster) } : {}),
          ...(values.severity ? { severity: values.severity as 'info' } : {}),
        };
        const created = await api.subscribe({ destination: await destinationOf(values), filter, ...(values.name ? { name: values.name } : {}) });
        const secret = created.secret ? `\nsigning secret (shown once; verify webhook-signature with it): ${created.secret}` : '';
        print(`subscription ${created.id}: ${describeDestination(created)} ← ${describeFilter(created)}${secret}`, created);
      },
    ),

    list: command({}, async ({ api, print }) => {
      const { items } = await api.subscriptions();
      const rows = items.map((sub) => [sub.id, sub.name ?? '', describeDestination(sub), describeFilter(sub)]);
      print(items.length ? table(['ID', 'NAME', 'DESTINATION', 'FILTER'], rows) : 'no subscriptions', { items });
    }),

    test: command({ ...APP_OPTION, version: { type: 'string' } }, async ({ api, args, values, print }) => {
      const id = need(args[0], '<subscription-id>');
      const app = values.app?.at(-1);
      const about = app !== undefined || values.version !== undefined ? { app: need(app, '--app'), version: need(values.version, '--version') } : undefined;
      const delivery = await firstOutcome(api, id, await api.testSubscription(id, about));
      print(`test message ${delivery.id}: ${describeAttempt(delivery)}`, delivery);
      return delivery.attempts[0]?.outcome === 'delivered' ? 0 : 1;
    }),

    deliveries: command({ limit: { type: 'string' } }, async ({ api, args, values, print }) => {
      const id = need(args[0], '<subscription-id>');
      const limit = Number(values.limit ?? '20');
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new CliError('--limit must be a whole number from 1 to 100', 2);
      const page = await api.deliveries(id, limit);
      const rows = page.items.map((delivery) => [
        delivery.id,
        delivery.eventType,
        delivery.state,
        String(delivery.attempts.length),
        describeAttempt(delivery),
        delivery.nextAttemptAt ?? '',
      ]);
      print(page.items.length ? table(['DELIVERY', 'EVENT', 'STATE', 'ATTEMPTS', 'LAST', 'RETRY'], rows) : 'no deliveries', page);
    }),

    redeliver: command({}, async ({ api, args, print }) => {
      const id = need(args[0], '<subscription-id>');
      const delivery = await api.redeliver(id, need(args[1], '<delivery-id>'));
      print(`delivery ${delivery.id} queued again`, delivery);
    }),

    rotate: command({ github: { type: 'boolean' }, 'github-token-file': { type: 'string' } }, async ({ api, args, values, print }) => {
      const id = need(args[0], '<subscription-id>');
      const input = values.github ? { githubToken: await githubToken(values['github-token-file']) } : {};
      const rotated = await api.rotateSecret(id, input);
      print(rotated.secret ? `new signing secret (shown once; the old one signs too for 24 h): ${rotated.secret}` : `subscription ${id}: token replaced`, rotated);
    }),

    delete: command({}, async ({ api, args, print }) => {
      const id = need(args[0], '<subscription-id>');
      await api.unsubscribe(id);
      print(`subscription ${id} deleted`, { id, deleted: true });
    }),
  }),
};
