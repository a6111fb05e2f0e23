// Credentials from Docker's config.json (`docker login`, `oras login`,
// `flux` and CI actions write it), so the CLI works where those tools work.
// Only inline `auths` entries are read: credential helpers (`credsStore`,
// `credHelpers`) would mean running other programs, which the CLI does not do.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CredentialResolver, RegistryCredentials } from './auth.ts';

interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  registrytoken?: string;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
}

/** `https://registry.example.com/v1/` and `registry.example.com` name the same registry. */
function registryKey(serverAddress: string): string {
  return serverAddress
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

function credentialsFromEntry(registry: string, entry: DockerAuthEntry): RegistryCredentials | undefined {
  if (entry.registrytoken) return { token: entry.registrytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) throw new Error(`docker config: the "auth" of ${registry} is not base64 of "username:password"`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Parses the JSON text of a Docker config file into a resolver by registry host. */
export function parseDockerConfig(text: string, origin = 'docker config'): CredentialResolver {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new Error(`${origin}: not valid JSON (${(error as Error).message})`);
  }
  const auths = (config as { auths?: Record<string, DockerAuthEntry> } | null)?.auths ?? {};
  const byRegistry = new Map<string, RegistryCredentials>();
  for (const [serverAddress, entry] of Object.entries(auths)) {
    const credentials = credentialsFromEntry(serverAddress, entry ?? {});
    if (credentials) byRegistry.set(registryKey(serverAddress), credentials);
  }
  return (registry) => byRegistry.get(registry.toLowerCase());
}

/** Reads Docker's config file; a missing file means no credentials, a broken one is an error. */
export async function readDockerCredentials(path = defaultDockerConfigPath()): Promise<CredentialResolver> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return () => undefined;
    throw error;
  }
  return parseDockerConfig(text, path);
}
