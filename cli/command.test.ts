import { describe, expect, it } from 'vitest';
import { command, commandTable, mergeOptions, withVerbs, type Context } from './command.ts';
import { ARGV_OPTIONS, COMMANDS } from './commands/index.ts';
import { CliError } from './errors.ts';

describe('the command table', () => {
  it('has every command of the help text', () => {
    expect(Object.keys(COMMANDS).sort()).toEqual(
      [
        'agent', 'app', 'approve', 'block', 'cluster', 'clusters', 'diff', 'drift', 'env', 'events', 'freeze', 'history', 'notify', 'policy',
        'promote', 'publish', 'resume', 'rollback', 'rollout', 'status', 'suspend', 'token', 'unblock', 'unfreeze',
      ].sort(),
    );
  });

  it('parses argv with every option a command declares, each declared one way', () => {
    expect(ARGV_OPTIONS).toEqual({
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
      override: { type: 'string' },
      recall: { type: 'boolean' },
      until: { type: 'string' },
      source: { type: 'string' },
      revision: { type: 'string' },
      repository: { type: 'string' },
      namespace: { type: 'string' },
      path: { type: 'string' },
      upstream: { type: 'string' },
      config: { type: 'string' },
      track: { type: 'string' },
      manual: { type: 'boolean' },
      'verify-key': { type: 'string' },
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
      'depends-on': { type: 'string' },
      drift: { type: 'string' },
      webhook: { type: 'string' },
      slack: { type: 'string' },
      github: { type: 'boolean' },
      'github-token-file': { type: 'string' },
      'github-api': { type: 'string' },
      context: { type: 'string' },
      severity: { type: 'string' },
      name: { type: 'string' },
    });
  });

  it('refuses an option declared two ways and a command declared twice', () => {
    expect(() => mergeOptions([{ app: { type: 'string' } }, { app: { type: 'string', multiple: true } }])).toThrow('option --app is declared two ways');
    const status = command({}, async () => {});
    expect(() => commandTable({ status }, { status })).toThrow('command status is declared twice');
  });
});

describe('withVerbs', () => {
  const ran: string[][] = [];
  const cluster = withVerbs('usage: flotilla cluster create <name>', {
    create: command({}, async ({ args }) => {
      ran.push(args);
    }),
  });
  const context = (args: string[]) => ({ args, values: {} }) as unknown as Context;

  it('runs the verb named with the arguments after it', async () => {
    await cluster.run(context(['create', 'prod-1']));
    expect(ran).toEqual([['prod-1']]);
  });

  it.each([[[]], [['delete', 'prod-1']], [['toString']]])('fails with the usage for %j', async (args) => {
    await expect(cluster.run(context(args))).rejects.toEqual(new CliError('usage: flotilla cluster create <name>', 2));
  });
});
