// Every command by the name it is run by, and every option argv may hold. Each group's file holds
// its commands' options and handlers:
//   releases.ts    publish, diff, block, unblock
//   promotions.ts  promote, rollback, history
//   fleet.ts       status, clusters, drift, events
//   clusters.ts    cluster create|token|revoke, suspend, resume, agent install
//   rollouts.ts    rollout status|pause|resume|abort, approve, freeze, unfreeze
//   setup.ts       app create, env create, policy, token create
//   notify.ts      notify create|list|test|deliveries|redeliver|rotate|delete
import { commandTable, mergeOptions } from '../command.ts';
import { clusterCommands } from './clusters.ts';
import { fleetCommands } from './fleet.ts';
import { notifyCommands } from './notify.ts';
import { promotionCommands } from './promotions.ts';
import { releaseCommands } from './releases.ts';
import { rolloutCommands } from './rollouts.ts';
import { setupCommands } from './setup.ts';

/** Options of every command. */
export const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  url: { type: 'string' },
  token: { type: 'string' },
} as const;

export const COMMANDS = commandTable(releaseCommands, promotionCommands, rolloutCommands, fleetCommands, clusterCommands, setupCommands, notifyCommands);

/**
 * What argv is parsed with: the global options and every command's, since the parser must know
 * each option's type (does it take the next word?) before it can tell which word names the
 * command. So every command accepts all of them, and ignores those it does not take.
 */
export const ARGV_OPTIONS = mergeOptions([GLOBAL_OPTIONS, ...Object.values(COMMANDS).map((command) => command.options)]);
