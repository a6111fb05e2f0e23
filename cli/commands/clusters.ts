// Clusters: cluster create|token|revoke, suspend, resume, agent install.
import { APP_OPTION, ENV_OPTION, REASON_OPTION, REGION_OPTION, UNTIL_OPTION, command, last, need, one, withVerbs, type Command } from '../command.ts';
import { CliError } from '../errors.ts';

/** `--label k=v` pairs as a record; the value may itself hold `=`. */
function labels(pairs: string[] = []): Record<string, string> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const at = pair.indexOf('=');
      if (at < 1) throw new CliError(`--label must be key=value, got ${pair}`, 2);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

const suspension = (action: 'suspend' | 'resume') =>
  command({ ...APP_OPTION, ...REASON_OPTION, ...UNTIL_OPTION }, async ({ api, values, args, print }) => {
    const app = last(values.app);
    const cluster = await api.setSuspension(need(args[0], '<cluster>'), action, {
      reason: need(values.reason, '--reason'),
      ...(app !== undefined ? { app } : {}),
      ...(action === 'suspend' && values.until ? { until: values.until } : {}),
    });
    const target = app !== undefined ? `${app} on ${cluster.name}` : cluster.name;
    print(`${target} ${action === 'suspend' ? 'suspended' : 'resumed'}`, cluster);
  });

export const clusterCommands: Record<string, Command> = {
  cluster: withVerbs('usage: flotilla cluster create|token|revoke <name>', {
    create: command({ ...ENV_OPTION, ...REGION_OPTION, label: { type: 'string', multiple: true } }, async ({ api, values, args, print }) => {
      const parsedLabels = labels(values.label);
      const cluster = await api.putCluster(need(args[0], '<name>'), {
        environment: one(values.env, '--env'),
        region: need(values.region, '--region'),
        labels: parsedLabels,
      });
      print(`cluster ${cluster.name} (${cluster.environment}/${cluster.region})`, cluster);
    }),

    token: command({}, async ({ api, args, print }) => {
      const token = await api.registrationToken(need(args[0], '<name>'));
      print(`${token.token}\n(one-time; expires ${token.expiresAt})`, token);
    }),

    revoke: command({ ...REASON_OPTION }, async ({ api, values, args, print }) => {
      const name = need(args[0], '<name>');
      const cluster = await api.revokeCluster(name, { reason: need(values.reason, '--reason') });
      print(`cluster ${cluster.name} revoked`, cluster);
    }),
  }),

  suspend: suspension('suspend'),
  resume: suspension('resume'),

  agent: withVerbs('usage: flotilla agent install <cluster>', {
    install: command(
      { image: { type: 'string' }, namespace: { type: 'string' }, 'least-privilege': { type: 'boolean' }, 'registry-secret': { type: 'string' } },
      async ({ api, config, values, args, print }) => {
        const cluster = need(args[0], '<cluster>');
        // Loaded here, not at start: only this command needs the manifests' code.
        const { renderInstallManifests } = await import('../../agent/install.ts');
        const token = await api.registrationToken(cluster);
        const yaml = renderInstallManifests({
          controlPlaneUrl: config.url,
          registrationToken: token.token,
          // Unset: the image of this release (DEFAULT_AGENT_IMAGE in agent/install.ts).
          image: values.image,
          namespace: values.namespace,
          leastPrivilege: values['least-privilege'] ?? false,
          registrySecret: values['registry-secret'],
        });
        print(yaml, { cluster, expiresAt: token.expiresAt, manifests: yaml });
      },
    ),
  }),
};
