import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SettingsError } from '../lib/settings.ts';
import { loadConfig } from './config.ts';
import { CliError } from './errors.ts';

let dir: string;
let missing: string;

async function configFile(name: string, text: string) {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof Error)) throw new Error('expected loadConfig to fail');
  return err;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-config-'));
  missing = join(dir, 'missing.json');
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('lets --url and --token win over the environment, and the environment over the file', async () => {
    const path = await configFile('all.json', JSON.stringify({ url: 'http://file:1', token: 'file-token' }));
    const fromFile = await loadConfig({ FLOTILLA_CONFIG: path });
    expect(fromFile).toMatchObject({ url: 'http://file:1', token: 'file-token' });
    const fromEnv = await loadConfig({ FLOTILLA_CONFIG: path, FLOTILLA_URL: 'http://env:2', FLOTILLA_TOKEN: 'env-token' });
    expect(fromEnv).toMatchObject({ url: 'http://env:2', token: 'env-token' });
    const fromFlags = await loadConfig({ FLOTILLA_CONFIG: path, FLOTILLA_URL: 'http://env:2' }, { url: 'https://flag:3', token: 'flag-token' });
    expect(fromFlags).toMatchObject({ url: 'https://flag:3', token: 'flag-token' });
  });

  it('takes registry credentials from the environment and the file, a username/password pair before a token', async () => {
    const path = await configFile('registry.json', JSON.stringify({ url: 'http://file:1', registry: { password: 'file-password', token: 'file-token' } }));
    const pair = await loadConfig({ FLOTILLA_CONFIG: path, FLOTILLA_REGISTRY_USERNAME: 'env-user' });
    expect(pair.registryCredentials('registry.example')).toEqual({ username: 'env-user', password: 'file-password' });
    const token = await loadConfig({ FLOTILLA_CONFIG: path });
    expect(token.registryCredentials('registry.example')).toEqual({ token: 'file-token' });
  });

  it('fails with a usage error when no control plane is configured', async () => {
    const err = await failure(loadConfig({ FLOTILLA_CONFIG: missing }));
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ exitCode: 2, message: `no control plane configured: set FLOTILLA_URL or "url" in ${missing}` });
  });

  it('names every bad setting, of the command line, the environment and the file, in one sentence', async () => {
    const path = await configFile('bad-fields.json', JSON.stringify({ url: 'ftp://file', registry: { username: 7 } }));
    const err = await failure(loadConfig({ FLOTILLA_CONFIG: path, FLOTILLA_URL: 'not a url' }, { url: 'also not a url' }));
    expect(err).toBeInstanceOf(SettingsError);
    expect(err.message).toMatch(/^flotilla: bad settings: /);
    expect(err.message).toMatch(/--url: must be an http\(s\) URL/);
    expect(err.message).toMatch(/FLOTILLA_URL: must be an http\(s\) URL/);
    expect(err.message).toContain(`"url" in config file ${path}: must be an http(s) URL`);
    expect(err.message).toContain(`"registry.username" in config file ${path}:`);
    expect(err.message).not.toContain('\n');
  });

  it('names a config file that is not JSON', async () => {
    const path = await configFile('malformed.json', '{ "url": ');
    const err = await failure(loadConfig({ FLOTILLA_CONFIG: path, FLOTILLA_URL: 'http://env:2' }));
    expect(err).toBeInstanceOf(SettingsError);
    expect(err.message).toMatch(new RegExp(`^flotilla: bad settings: config file ${path} is not valid JSON \\(.+\\)$`));
  });

  it('treats empty variables as unset, as lib/settings does', async () => {
    const path = await configFile('url.json', JSON.stringify({ url: 'http://file:1' }));
    expect(await loadConfig({ FLOTILLA_CONFIG: path, FLOTILLA_URL: '' })).toMatchObject({ url: 'http://file:1' });
  });
});
