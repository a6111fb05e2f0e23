// `flotilla`: the command line for CI, SREs and scripts. Human tables by default, --json for
// scripts, one-sentence errors and meaningful exit codes (see usage.ts). This file parses argv,
// runs the command named and turns errors into exit codes; commands/index.ts says where each command is.
import { parseArgs } from 'node:util';
import { SettingsError } from '../lib/settings.ts';
import { createApiClient } from './api.ts';
import { findCommand, type OptionValues } from './command.ts';
import { ARGV_OPTIONS, COMMANDS, type GLOBAL_OPTIONS } from './commands/index.ts';
import { loadConfig } from './config.ts';
import { CliError } from './errors.ts';
import { USAGE } from './usage.ts';

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: ARGV_OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message.split('\n')[0]!, 2);
  }
}

export async function run(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(argv);
    // ARGV_OPTIONS holds GLOBAL_OPTIONS as declared, so these values are of their types.
    const global = values as OptionValues<typeof GLOBAL_OPTIONS>;
    const [name, ...args] = positionals;
    if (global.help || !name) {
      console.log(USAGE);
      return name || global.help ? 0 : 2;
    }
    const command = findCommand(COMMANDS, name);
    if (!command) throw new CliError(`unknown command "${name}"; run flotilla --help`, 2);
    const config = await loadConfig(process.env, { url: global.url, token: global.token });
    const api = createApiClient(config.url, config.token);
    const print = (human: string, json: unknown) => console.log(global.json ? JSON.stringify(json, null, 2) : human);
    return (await command.run({ api, config, values, args, print })) ?? 0;
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
