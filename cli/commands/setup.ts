// Setup (admin): app create, env create, policy, token create.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { EnvironmentSpec, type Role } from '../../lib/api/schemas.ts';
import { APP_OPTION, ENV_OPTION, command, need, withVerbs, type Command } from '../command.ts';
import { CliError } from '../errors.ts';
import { APP_DEPENDENCY_OPTIONS, appDependencyFields, describeAppDependencies } from './app-flags.ts';

const DEFAULT_TOKEN_TTL_DAYS = 30;
const SECONDS_PER_DAY = 86_400;

/** What `env create --config FILE` may set: the progressive-delivery fields of an environment. */
const EnvironmentConfig = EnvironmentSpec.pick({ gates: true, waves: true, autoRollback: true, windows: true }).strict();

/** The --config file, checked here so that a mistake in it fails naming the file (exit 2). */
async function readEnvironmentConfig(path: string): Promise<z.output<typeof EnvironmentConfig>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read --config ${path}: ${(err as Error).message}`, 2);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError(`--config ${path} is not valid JSON (${(err as Error).message})`, 2);
  }
  const result = EnvironmentConfig.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
  throw new CliError(`--config ${path}: ${problems.join('; ')}`, 2);
}

/** `--verify-key cosign.pub`: the key file's text, for the control plane to validate (a bad key is its 400, exit 2). */
async function readVerifyKey(path: string | undefined): Promise<{ verify: { provider: 'cosign'; publicKey: string } } | Record<string, never>> {
  if (path === undefined) return {};
  try {
    return { verify: { provider: 'cosign', publicKey: await readFile(path, 'utf8') } };
  } catch (err) {
    throw new CliError(`cannot read --verify-key ${path}: ${(err as Error).message}`, 2);
  }
}

export const setupCommands: Record<string, Command> = {
  app: withVerbs('usage: flotilla app create|update <name> --repository REPO [--verify-key cosign.pub]', {
    create: command(
      { repository: { type: 'string' }, namespace: { type: 'string' }, path: { type: 'string' }, 'verify-key': { type: 'string' }, ...APP_DEPENDENCY_OPTIONS },
      async ({ api, values, args, print }) => {
        const name = need(args[0], '<name>');
        const app = await api.putApp(name, {
          repository: need(values.repository, '--repository'),
          ...(values.namespace ? { namespace: values.namespace } : {}),
          ...(values.path ? { path: values.path } : {}),
          ...appDependencyFields(values),
          ...(await readVerifyKey(values['verify-key'])),
        });
        print(`app ${app.name}: ${app.repository} → namespace ${app.namespace}${describeAppDependencies(app)}${app.verify ? ', cosign signature required' : ''}`, app);
      },
    ),
    /** The stored app with the given flags changed; every other field kept. */
    update: command(
      { repository: { type: 'string' }, namespace: { type: 'string' }, path: { type: 'string' }, 'verify-key': { type: 'string' }, ...APP_DEPENDENCY_OPTIONS },
      async ({ api, values, args, print }) => {
        const name = need(args[0], '<name>');
        const { name: _name, createdAt: _created, updatedAt: _updated, ...spec } = await api.getApp(name);
        const app = await api.putApp(name, {
          ...spec,
          ...(values.repository ? { repository: values.repository } : {}),
          ...(values.namespace ? { namespace: values.namespace } : {}),
          ...(values.path ? { path: values.path } : {}),
          ...appDependencyFields(values),
          ...(await readVerifyKey(values['verify-key'])),
        });
        print(`app ${app.name}: ${app.repository} → namespace ${app.namespace}${describeAppDependencies(app)}`, app);
      },
    ),
  }),

  env: withVerbs('usage: flotilla env create <name> [--upstream ENV] [--config FILE]', {
    create: command({ upstream: { type: 'string' }, config: { type: 'string' } }, async ({ api, values, args, print }) => {
      const name = need(args[0], '<name>');
      const config = values.config === undefined ? {} : await readEnvironmentConfig(values.config);
      const env = await api.putEnvironment(name, { upstream: values.upstream ?? null, ...config });
      const waves = env.waves?.length ? `, waves ${env.waves.map((wave) => wave.name).join(' → ')}` : '';
      print(`environment ${env.name}${env.upstream ? ` (upstream ${env.upstream})` : ''}${waves}`, env);
    }),
  }),

  policy: command({ track: { type: 'string' }, manual: { type: 'boolean' }, 'verify-key': { type: 'string' } }, async ({ api, values, args, print }) => {
    if (!values.manual && !values.track) throw new CliError('give --track RANGE or --manual', 2);
    const app = need(args[0], '<app>');
    const view = await api.putPolicy(app, need(args[1], '<env>'), { track: values.manual ? null : (values.track ?? null), ...(await readVerifyKey(values['verify-key'])) });
    const signed = view.verify ? ', cosign signature required' : '';
    print(`${view.app} in ${view.environment}: ${view.track ? `tracks ${view.track}` : 'manual'}${signed}, resolves to ${view.resolved.version ?? 'nothing'}`, view);
  }),

  token: withVerbs('usage: flotilla token create --subject S --role ROLE', {
    create: command(
      { subject: { type: 'string' }, role: { type: 'string' }, ...APP_OPTION, ...ENV_OPTION, ttl: { type: 'string' } },
      async ({ api, values, print }) => {
        const days = Number(values.ttl ?? DEFAULT_TOKEN_TTL_DAYS);
        if (!Number.isFinite(days) || days <= 0) throw new CliError('--ttl must be a number of days', 2);
        const issued = await api.issueToken({
          subject: need(values.subject, '--subject'),
          // Unchecked here: the control plane refuses an unknown role, naming the roles there are.
          grants: [{ role: need(values.role, '--role') as Role, ...(values.app ? { apps: values.app } : {}), ...(values.env ? { environments: values.env } : {}) }],
          ttlSeconds: Math.round(days * SECONDS_PER_DAY),
        });
        print(`${issued.token}\n(id ${issued.id}; expires ${issued.expiresAt})`, issued);
      },
    ),
  }),
};
