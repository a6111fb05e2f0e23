// Releases: publish, diff, block, unblock.
import { diff, publish } from '../artifacts.ts';
import { APP_OPTION, REASON_OPTION, command, need, one, type Command } from '../command.ts';
import { CliError } from '../errors.ts';

const VERSION_OPTION = { version: { type: 'string' } } as const;

/** Progress on stderr: one line rewritten in a terminal, a line per step in a CI log. */
function progress(line: string) {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
  else process.stderr.write(`${line}\n`);
}

// block --recall also moves every pin and rollout holding the release back.
const blockOrUnblock = (action: 'block' | 'unblock') =>
  command({ ...REASON_OPTION, recall: { type: 'boolean' } }, async ({ api, values, args, print }) => {
    const app = need(args[0], '<app>');
    const version = need(args[1], '<version>');
    const recall = values.recall === true;
    if (recall && action === 'unblock') throw new CliError('--recall goes with block, not unblock', 2);
    const release = await api.setReleaseBlock(app, version, action, { reason: need(values.reason, '--reason'), ...(recall ? { recall } : {}) });
    print(`${release.app}@${release.version} ${release.blocked ? `blocked${recall ? ' and recalled' : ''}: ${release.blocked.reason}` : 'unblocked'}`, release);
  });

export const releaseCommands: Record<string, Command> = {
  publish: command(
    { ...APP_OPTION, ...VERSION_OPTION, source: { type: 'string' }, revision: { type: 'string' } },
    async ({ api, config, values, args, print }) => {
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
  ),

  diff: command({ ...APP_OPTION, ...VERSION_OPTION }, async ({ api, config, values, args, print }) => {
    const result = await diff(api, config, { dir: need(args[0], '<dir>'), app: one(values.app, '--app'), version: need(values.version, '--version') });
    const human = result.changes.length
      ? result.changes.map((change) => `${change.change} ${change.path}\n${change.patch}`).join('\n')
      : `no differences from ${result.app}@${result.version}`;
    print(human, result);
    // Like diff(1): 1 when there are differences, so a CI step can fail on them.
    return result.changes.length ? 1 : 0;
  }),

  block: blockOrUnblock('block'),
  unblock: blockOrUnblock('unblock'),
};
