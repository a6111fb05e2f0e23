// What a command is: the options it takes, declared next to its handler, and the handler. main
// parses argv once with every command's options merged, then hands the values to the command named.
import type { ApiClient } from './api.ts';
import type { CliConfig } from './config.ts';
import { CliError } from './errors.ts';

/** One option, as node:util's parseArgs declares it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
}
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type OptionValue<S extends OptionSpec> = S['type'] extends 'boolean' ? boolean : string;
/** The values parseArgs gives for `O`: each absent unless given, an array when `multiple`. */
export type OptionValues<O extends OptionSpecs> = {
  -readonly [K in keyof O]?: O[K]['multiple'] extends true ? OptionValue<O[K]>[] : OptionValue<O[K]>;
};
/** The values as main hands them to a command, before the command's own declarations type them. */
export type ParsedValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Context<V = ParsedValues> {
  api: ApiClient;
  config: CliConfig;
  values: V;
  /** The positionals after the command's name (and after its verb, for `cluster create` and the like). */
  args: string[];
  /** Prints `human`, or `json` as JSON under --json. */
  print: (human: string, json: unknown) => void;
}

export interface Command {
  options: OptionSpecs;
  /** Answers the exit code when it is not 0 (diff answers 1 when there are differences). */
  run(ctx: Context): Promise<number | void>;
}

export function command<const O extends OptionSpecs>(
  options: O,
  run: (ctx: Context<OptionValues<O>>) => Promise<number | void>,
): Command {
  // argv was parsed with every command's declarations merged, and mergeOptions refuses two
  // declarations of one name that differ: the values of O's options are of O's types.
  return { options, run: (ctx) => run(ctx as Context<OptionValues<O>>) };
}

/** The command called `name`, if there is one (and not something every object has, like `toString`). */
export function findCommand(commands: Readonly<Record<string, Command>>, name: string): Command | undefined {
  return Object.hasOwn(commands, name) ? commands[name] : undefined;
}

/** A command with verbs (`cluster create|token|revoke`): the first argument picks one; anything else fails with `usage`. */
export function withVerbs(usage: string, verbs: Readonly<Record<string, Command>>): Command {
  return {
    options: mergeOptions(Object.values(verbs).map((verb) => verb.options)),
    async run(ctx) {
      const [name, ...args] = ctx.args;
      const verb = name === undefined ? undefined : findCommand(verbs, name);
      if (!verb) throw new CliError(usage, 2);
      return verb.run({ ...ctx, args });
    },
  };
}

/** The commands of several groups in one table; a name in two groups is a mistake. */
export function commandTable(...groups: Readonly<Record<string, Command>>[]): Readonly<Record<string, Command>> {
  const table: Record<string, Command> = {};
  for (const [name, command] of groups.flatMap((group) => Object.entries(group))) {
    if (Object.hasOwn(table, name)) throw new Error(`command ${name} is declared twice`);
    table[name] = command;
  }
  return table;
}

/** One set of options from several; the same name declared two ways is a mistake. */
export function mergeOptions(sets: OptionSpecs[]): OptionSpecs {
  const merged: Record<string, OptionSpec> = {};
  for (const [name, spec] of sets.flatMap((set) => Object.entries(set))) {
    const known = merged[name];
    if (known && JSON.stringify(known) !== JSON.stringify(spec)) throw new Error(`option --${name} is declared two ways`);
    merged[name] = spec;
  }
  return merged;
}

/** `value`, unless it is missing or empty: then a usage error naming `what`. */
export function need<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) {
    throw new CliError(`missing ${what}`, 2);
  }
  return value;
}

/** The last of a repeatable option's values, which must be given. */
export const one = (values: string[] | undefined, what: string) => need(values, what).at(-1)!;
/** The last of a repeatable option's values, or undefined when none is given. */
export const last = (values: string[] | undefined) => values?.at(-1);

// Options several commands take, declared once. --app and --env repeat for `token create`; the
// other commands take the last one given.
export const APP_OPTION = { app: { type: 'string', multiple: true } } as const;
export const ENV_OPTION = { env: { type: 'string', multiple: true } } as const;
export const REGION_OPTION = { region: { type: 'string' } } as const;
export const REASON_OPTION = { reason: { type: 'string' } } as const;
export const UNTIL_OPTION = { until: { type: 'string' } } as const;
