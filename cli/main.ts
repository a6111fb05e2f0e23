// `flotilla`: the command line for CI, SREs and scripts. Human tables by default, --json for
// scripts, one-sentence errors and meaningful exit codes (see USAGE).
import { parseArgs } from 'node:util';
import { SettingsError } from '../lib/settings.ts';
import { createApiClient, type ApiClient } from './api.ts';
import { diff, publish } from './artifacts.ts';
import { loadConfig, type CliConfig } from './config.ts';
import { CliError } from './errors.ts';
import { ago, counts, driftLines, table } from './format.ts';

const USAGE = `usage: flotilla <command> [options]

Releases
  publish <dir> --app A --version V [--source URL] [--revision REV]   build, push and register a release
  diff <dir> --app A --version V                  what the directory changes against a published release
  block|unblock <app> <version> --reason R
Promotion
  promote <app> <version> --to ENV [--region R] --reason R
  rollback <app> --env ENV [--region R] --reason R
  history <app> [--env ENV] [--region R]           promotion records, oldest first
Fleet
  status                                           the app × environment × region matrix
  clusters                                         clusters with last check-in and app phases
  drift <cluster>                                  current and recent drift of a cluster
  events [--app A] [--cluster C] [--env E] [--type T] [--limit N] [--all]   newest first page, or --all
  suspend|resume <cluster> [--app A] --reason R [--until TIME]
Setup (admin)
  app create <name> --repository REPO [--namespace NS] [--path P]
  env create <name> [--upstream ENV]
  policy <app> <env> (--track RANGE | --manual)
  cluster create <name> --env ENV --region R [--label k=v ...]
  cluster token <name>                             one-time agent registration token
  cluster revoke <name> --reason R
  token create --subject S --role ROLE [--app A ...] [--env E ...] [--ttl DAYS]
  agent install <cluster> [--least-privilege] [--image IMG] [--namespace NS] [--registry-secret NAME]

Options: --json (machine output), --url URL, --token TOKEN
Settings: FLOTILLA_URL, FLOTILLA_TOKEN, FLOTILLA_REGISTRY_USERNAME/PASSWORD/TOKEN, or the config
file ~/.config/flotilla/config.json ({"url","token","registry":{...}}); Docker's config.json for registries.
Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 unauthorized/forbidden, 4 not found, 5 conflict,
6 the control plane is busy (retry).`;

const OPTIONS = {
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
  token: { type: 'string' },
  app: { type: 'string', multiple: true },
  version: { type: 'string' },
  to: { type: 'string' },
  env: { type: 'string', multiple: true },
  region: { type: 'string' },
  reason: { type: 'string' },
  until: { type: 'string' },
  source: { type: 'string' },
  revision: { type: 'string' },
  repository: { type: 'string' },
  namespace: { type: 'string' },
  path: { type: 'string' },
  upstream: { type: 'string' },
  track: { type: 'string' },
  manual: { type: 'boolean' },
  label: { type: 'string', multiple: true },
  subject: { type: 'string' },
  role: { type: 'string' },
  ttl: { type: 'string' },
  type: { type: 'string' },
  cluster: { type: 'string' },
  limit: { type: 'string' },
  image: { type: 'string' },
  'least-privilege': { type: 'boolean' },
  'registry-secret': { type: 'string' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message.split('\n')[0]!, 2);
  }
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) {
    throw new CliError(`missing ${what}`, 2);
  }
  return value;
}

const one = (values: string[] | undefined, what: string) => need(values, what).at(-1)!;
const enc = encodeURIComponent;

interface Context {
  api: ApiClient;
  config: CliConfig;
  values: Values;
  args: string[];
  print: (human: string, json: unknown) => void;
}

type Command = (ctx: Context) => Promise<void>;

const COMMANDS: Record<string, Command> = {
  async publish({ api, config, values, args, print }) {
    const progress = (line: string) => {
      if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
      else process.stderr.write(`${line}\n`);
    };
    const release = await publish(api, config, {
      dir: need(args[0], '<dir>'),
      app: one(values.app, '--app'),
      version: need(values.version, '--version'),
      source: values.source,
      revision: values.revision,
      onProgress: progress,
    });
    if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
    print(
      `${release.alreadyPublished ? 'already published' : 'published'} ${release.app}@${release.version} ${release.repository}:${release.tag}\n${release.digest}`,
      release,
    );
  },

  async diff({ api, config, values, args, print }) {
    const result = await diff(api, config, { dir: need(args[0], '<dir>'), app: one(values.app, '--app'), version: need(values.version, '--version') });
    const human = result.changes.length
      ? result.changes.map((change) => `${change.change} ${change.path}\n${change.patch}`).join('\n')
      : `no differences from ${result.app}@${result.version}`;
    print(human, result);
    if (result.changes.length) process.exitCode = 1;
  },

  async block(ctx) {
    await blockOrUnblock(ctx, 'block');
  },
  async unblock(ctx) {
    await blockOrUnblock(ctx, 'unblock');
  },

  async promote({ api, values, args, print }) {
    const record = await api.post(`/v1/apps/${enc(need(args[0], '<app>'))}/promotions`, {
      environment: need(values.to, '--to'),
      version: need(args[1], '<version>'),
      region: values.region,
      reason: need(values.reason, '--reason'),
    });
    print(promotionLine(record), record);
  },

  async rollback({ api, values, args, print }) {
    const record = await api.post(`/v1/apps/${enc(need(args[0], '<app>'))}/rollbacks`, {
      environment: one(values.env, '--env'),
      region: values.region,
      reason: need(values.reason, '--reason'),
    });
    print(promotionLine(record), record);
  },

  async history({ api, values, args, print }) {
    const query = new URLSearchParams();
    if (values.env?.length) query.set('environment', values.env.at(-1)!);
    if (values.region) query.set('region', values.region);
    const { items } = await api.get(`/v1/apps/${enc(need(args[0], '<app>'))}/promotions?${query}`);
    print(
      table(
        ['TIME', 'ENV', 'REGION', 'KIND', 'FROM', 'TO', 'ACTOR', 'REASON'],
        items.map((r: any) => [r.at, r.environment, r.region ?? '*', r.kind, r.fromVersion, r.toVersion, r.actor, r.reason]),
      ),
      items,
    );
  },

  async status({ api, print }) {
    const fleet = await api.get('/v1/fleet');
    print(
      table(
        ['APP', 'ENV', 'REGION', 'DESIRED', 'CLUSTERS', 'PHASES', 'RUNNING', 'DRIFTED', 'STALE'],
        fleet.cells.map((c: any) => [c.app, c.environment, c.region, c.desiredVersion, c.clusters, counts(c.phases), counts(c.versions), c.drifted, c.stale]),
      ),
      fleet,
    );
  },

  async clusters({ api, print }) {
    const { items } = await api.get('/v1/clusters');
    print(
      table(
        ['NAME', 'ENV', 'REGION', 'AGENT', 'LAST SEEN', 'SUSPENDED', 'APPS'],
        items.map((c: any) => [
          c.name,
          c.environment,
          c.region,
          c.revoked ? 'revoked' : c.registered ? 'registered' : 'not registered',
          `${ago(c.lastSeen)}${c.stale ? ' (stale)' : ''}`,
          c.suspended ? `yes: ${c.suspended.reason}` : Object.keys(c.suspendedApps).join(',') || 'no',
          Object.entries(c.apps).map(([name, s]: [string, any]) => `${name}@${s.version ?? '?'} ${s.phase}${s.drifted ? ` drift:${s.drifted}` : ''}`).join(', '),
        ]),
      ),
      items,
    );
  },

  async drift({ api, args, print }) {
    const drift = await api.get(`/v1/clusters/${enc(need(args[0], '<cluster>'))}/drift`);
    const current = drift.apps.flatMap((app: any) =>
      app.drift.length ? [`${app.name}@${app.version ?? '?'} (${app.phase})`, ...driftLines(app.drift)] : [],
    );
    const recent = drift.events.map((e: any) => `${e.at} ${e.type} ${e.data?.object ?? ''}`);
    print(
      [
        `cluster ${drift.cluster}, last report ${ago(drift.reportedAt)}`,
        current.length ? `current drift:\n${current.join('\n')}` : 'no current drift',
        recent.length ? `recent drift events:\n${recent.map((l: string) => `  ${l}`).join('\n')}` : 'no recent drift events',
      ].join('\n'),
      drift,
    );
  },

  async events({ api, values, print }) {
    // the newest events, shown oldest first
    const query = new URLSearchParams({ order: 'desc', limit: values.limit ?? '100' });
    if (values.app?.length) query.set('app', values.app.at(-1)!);
    if (values.env?.length) query.set('environment', values.env.at(-1)!);
    if (values.cluster) query.set('cluster', values.cluster);
    if (values.type) query.set('type', values.type);
    // --all follows the cursors through the whole window (an audit export); otherwise one page.
    const items: any[] = [];
    for (let cursor: string | null = null; ; ) {
      const page: { items: any[]; nextCursor: string | null } = await api.get(`/v1/events?${query}${cursor ? `&cursor=${cursor}` : ''}`);
      items.push(...page.items);
      cursor = page.nextCursor;
      if (!values.all || !cursor) break;
    }
    items.reverse();
    print(table(['TIME', 'TYPE', 'ACTOR', 'MESSAGE'], items.map((e: any) => [e.at, e.type, e.actor, e.message])), items);
  },

  async suspend(ctx) {
    await suspension(ctx, 'suspend');
  },
  async resume(ctx) {
    await suspension(ctx, 'resume');
  },

  async app({ api, values, args, print }) {
    if (args[0] !== 'create') throw new CliError('usage: flotilla app create <name> --repository REPO', 2);
    const app = await api.put(`/v1/apps/${enc(need(args[1], '<name>'))}`, {
      repository: need(values.repository, '--repository'),
      ...(values.namespace ? { namespace: values.namespace } : {}),
      ...(values.path ? { path: values.path } : {}),
    });
    print(`app ${app.name}: ${app.repository} → namespace ${app.namespace}`, app);
  },

  async env({ api, values, args, print }) {
    if (args[0] !== 'create') throw new CliError('usage: flotilla env create <name> [--upstream ENV]', 2);
    const env = await api.put(`/v1/environments/${enc(need(args[1], '<name>'))}`, { upstream: values.upstream ?? null });
    print(`environment ${env.name}${env.upstream ? ` (upstream ${env.upstream})` : ''}`, env);
  },

  async policy({ api, values, args, print }) {
    if (!values.manual && !values.track) throw new CliError('give --track RANGE or --manual', 2);
    const view = await api.put(`/v1/apps/${enc(need(args[0], '<app>'))}/environments/${enc(need(args[1], '<env>'))}`, {
      track: values.manual ? null : values.track,
    });
    print(`${view.app} in ${view.environment}: ${view.track ? `tracks ${view.track}` : 'manual'}, resolves to ${view.resolved.version ?? 'nothing'}`, view);
  },

  async cluster({ api, values, args, print }) {
    const [verb, name] = args;
    if (verb === 'create') {
      const labels = Object.fromEntries(
        (values.label ?? []).map((pair) => {
          const at = pair.indexOf('=');
          if (at < 1) throw new CliError(`--label must be key=value, got ${pair}`, 2);
          return [pair.slice(0, at), pair.slice(at + 1)];
        }),
      );
      const cluster = await api.put(`/v1/clusters/${enc(need(name, '<name>'))}`, {
        environment: one(values.env, '--env'),
        region: need(values.region, '--region'),
        labels,
      });
      print(`cluster ${cluster.name} (${cluster.environment}/${cluster.region})`, cluster);
    } else if (verb === 'token') {
      const token = await api.post(`/v1/clusters/${enc(need(name, '<name>'))}/registration-tokens`);
      print(`${token.token}\n(one-time; expires ${token.expiresAt})`, token);
    } else if (verb === 'revoke') {
      const cluster = await api.post(`/v1/clusters/${enc(need(name, '<name>'))}/revoke`, { reason: need(values.reason, '--reason') });
      print(`cluster ${cluster.name} revoked`, cluster);
    } else {
      throw new CliError('usage: flotilla cluster create|token|revoke <name>', 2);
    }
  },

  async token({ api, values, args, print }) {
    if (args[0] !== 'create') throw new CliError('usage: flotilla token create --subject S --role ROLE', 2);
    const days = Number(values.ttl ?? 30);
    if (!Number.isFinite(days) || days <= 0) throw new CliError('--ttl must be a number of days', 2);
    const issued = await api.post('/v1/tokens', {
      subject: need(values.subject, '--subject'),
      grants: [{ role: need(values.role, '--role'), ...(values.app ? { apps: values.app } : {}), ...(values.env ? { environments: values.env } : {}) }],
      ttlSeconds: Math.round(days * 86_400),
    });
    print(`${issued.token}\n(id ${issued.id}; expires ${issued.expiresAt})`, issued);
  },

  async agent({ api, values, args, print, config }) {
    if (args[0] !== 'install') throw new CliError('usage: flotilla agent install <cluster>', 2);
    const cluster = need(args[1], '<cluster>');
    const { renderInstallManifests } = await import('../agent/install.ts');
    const token = await api.post(`/v1/clusters/${enc(cluster)}/registration-tokens`);
    const yaml = renderInstallManifests({
      controlPlaneUrl: config.url,
      registrationToken: token.token,
      image: values.image ?? 'ghcr.io/flotilla/agent:latest',
      namespace: values.namespace,
      leastPrivilege: values['least-privilege'] ?? false,
      registrySecret: values['registry-secret'],
    });
    print(yaml, { cluster, expiresAt: token.expiresAt, manifests: yaml });
  },
};

async function blockOrUnblock({ api, values, args, print }: Context, action: 'block' | 'unblock') {
  const release = await api.post(`/v1/apps/${enc(need(args[0], '<app>'))}/releases/${enc(need(args[1], '<version>'))}/${action}`, {
    reason: need(values.reason, '--reason'),
  });
  print(`${release.app}@${release.version} ${release.blocked ? `blocked: ${release.blocked.reason}` : 'unblocked'}`, release);
}

async function suspension({ api, values, args, print }: Context, action: 'suspend' | 'resume') {
  const cluster = await api.post(`/v1/clusters/${enc(need(args[0], '<cluster>'))}/${action}`, {
    reason: need(values.reason, '--reason'),
    ...(values.app?.length ? { app: values.app.at(-1) } : {}),
    ...(action === 'suspend' && values.until ? { until: values.until } : {}),
  });
  const target = values.app?.length ? `${values.app.at(-1)} on ${cluster.name}` : cluster.name;
  print(`${target} ${action === 'suspend' ? 'suspended' : 'resumed'}`, cluster);
}

const promotionLine = (r: any) =>
  `${r.kind} ${r.app} ${r.environment}${r.region ? `/${r.region}` : ''}: ${r.fromVersion ?? 'nothing'} → ${r.toVersion} (#${r.seq} by ${r.actor})`;

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(argv);
    const [name, ...args] = positionals;
    if (values.help || !name) {
      console.log(USAGE);
      return name || values.help ? 0 : 2;
    }
    const command = COMMANDS[name];
    if (!command) throw new CliError(`unknown command "${name}"; run flotilla --help`, 2);
    const config = await loadConfig(process.env, { url: values.url, token: values.token });
    const api = createApiClient(config.url, config.token);
    const print = (human: string, json: unknown) => console.log(values.json ? JSON.stringify(json, null, 2) : human);
    await command({ api, config, values, args, print });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`flotilla: ${err.message}`);
      return err.exitCode;
    }
    // Its message already names the program and every bad setting.
    if (err instanceof SettingsError) {
      console.error(err.message);
      return 2;
    }
    console.error(`flotilla: unexpected error: ${(err as Error).stack ?? err}`);
    return 1;
  }
}

process.exitCode = await run(process.argv.slice(2));
