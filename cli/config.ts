// CLI settings: environment variables win over the config file (~/.config/flotilla/config.json
// or $FLOTILLA_CONFIG); registry credentials fall back to Docker's config.json.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CredentialResolver } from '../lib/oci/auth.ts';
import { readDockerCredentials } from '../lib/oci/docker-config.ts';
import { CliError } from './errors.ts';

export interface CliConfig {
  url: string;
  token?: string;
  registryCredentials: CredentialResolver;
}

interface ConfigFile {
  url?: string;
  token?: string;
  registry?: { username?: string; password?: string; token?: string };
}

export async function loadConfig(env: NodeJS.ProcessEnv = process.env): Promise<CliConfig> {
  const path = env.FLOTILLA_CONFIG ?? join(homedir(), '.config', 'flotilla', 'config.json');
  let file: ConfigFile = {};
  try {
    file = JSON.parse(await readFile(path, 'utf8')) as ConfigFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  const url = env.FLOTILLA_URL ?? file.url;
  if (!url) throw new CliError('no control plane configured: set FLOTILLA_URL or "url" in ' + path, 2);
  const username = env.FLOTILLA_REGISTRY_USERNAME ?? file.registry?.username;
  const password = env.FLOTILLA_REGISTRY_PASSWORD ?? file.registry?.password;
  const registryToken = env.FLOTILLA_REGISTRY_TOKEN ?? file.registry?.token;
  const docker = await readDockerCredentials().catch(() => () => undefined);
  const registryCredentials: CredentialResolver =
    username && password
      ? () => ({ username, password })
      : registryToken
        ? () => ({ token: registryToken })
        : docker;
  return { url, token: env.FLOTILLA_TOKEN ?? file.token, registryCredentials };
}
