// CLI settings, parsed once: --url and --token win over the environment, the environment over the
// config file (~/.config/flotilla/config.json or $FLOTILLA_CONFIG); registry credentials fall back
// to Docker's config.json. Bad settings fail in one sentence naming each (exit 2).
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { CredentialResolver } from '../lib/oci/auth.ts';
import { readDockerCredentials } from '../lib/oci/docker-config.ts';
import { SettingsError, parseSettings, urlSetting } from '../lib/settings.ts';
import { CliError } from './errors.ts';

const PROGRAM = 'flotilla';

export interface CliConfig {
  url: string;
  token?: string;
  registryCredentials: CredentialResolver;
}

/** What the command line overrides. */
export interface ConfigFlags {
  url?: string;
  token?: string;
}

// The flags sit beside the variables they override, so a bad --url is named as such.
const Settings = z.object({
  '--url': urlSetting.optional(),
  '--token': z.string().optional(),
  FLOTILLA_CONFIG: z.string().optional(),
  FLOTILLA_URL: urlSetting.optional(),
  FLOTILLA_TOKEN: z.string().optional(),
  FLOTILLA_REGISTRY_USERNAME: z.string().optional(),
  FLOTILLA_REGISTRY_PASSWORD: z.string().optional(),
  FLOTILLA_REGISTRY_TOKEN: z.string().optional(),
});

// Unknown fields are ignored, as they always were: a config file may carry a newer CLI's settings.
const ConfigFile = z.object({
  url: urlSetting.optional(),
  token: z.string().optional(),
  registry: z
    .object({ username: z.string().optional(), password: z.string().optional(), token: z.string().optional() })
    .optional(),
});
type ConfigFile = z.infer<typeof ConfigFile>;

const defaultConfigPath = () => join(homedir(), '.config', 'flotilla', 'config.json');

/**
 * The config file at `path` ({} when there is none), or the problems that make it unusable, each
 * naming the file. A file that cannot be read at all (a directory, no permission) is a CliError.
 */
async function readConfigFile(path: string): Promise<{ file: ConfigFile; problems: string[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file: {}, problems: [] };
    throw new CliError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { file: {}, problems: [`config file ${path} is not valid JSON (${(err as Error).message})`] };
  }
  const result = ConfigFile.safeParse(json);
  if (result.success) return { file: result.data, problems: [] };
  const problems = result.error.issues.map((issue) =>
    issue.path.length ? `"${issue.path.join('.')}" in config file ${path}: ${issue.message}` : `config file ${path}: ${issue.message}`,
  );
  return { file: {}, problems };
}

export async function loadConfig(env: Record<string, string | undefined> = process.env, flags: ConfigFlags = {}): Promise<CliConfig> {
  const given: Record<string, string | undefined> = { ...env, '--url': flags.url, '--token': flags.token };
  // The file is read before the environment is checked, so that the problems of both go in one
  // sentence. Its path cannot be bad; empty counts as unset, as parseSettings has it.
  const path = given.FLOTILLA_CONFIG || defaultConfigPath();
  const { file, problems } = await readConfigFile(path);
  let settings: z.output<typeof Settings>;
  try {
    settings = parseSettings(PROGRAM, Settings, given);
  } catch (err) {
    if (err instanceof SettingsError && problems.length) throw new SettingsError(`${err.message}; ${problems.join('; ')}`);
    throw err;
  }
  if (problems.length) throw new SettingsError(`${PROGRAM}: bad settings: ${problems.join('; ')}`);

  const url = settings['--url'] ?? settings.FLOTILLA_URL ?? file.url;
  if (!url) throw new CliError('no control plane configured: set FLOTILLA_URL or "url" in ' + path, 2);
  const username = settings.FLOTILLA_REGISTRY_USERNAME ?? file.registry?.username;
  const password = settings.FLOTILLA_REGISTRY_PASSWORD ?? file.registry?.password;
  const registryToken = settings.FLOTILLA_REGISTRY_TOKEN ?? file.registry?.token;
  const docker = await readDockerCredentials().catch(() => () => undefined);
  const registryCredentials: CredentialResolver =
    username && password
      ? () => ({ username, password })
      : registryToken
        ? () => ({ token: registryToken })
        : docker;
  return { url, token: settings['--token'] ?? settings.FLOTILLA_TOKEN ?? file.token, registryCredentials };
}
