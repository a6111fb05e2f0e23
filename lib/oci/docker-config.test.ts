import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultDockerConfigPath, parseDockerConfig, readDockerCredentials } from './docker-config.ts';

const auth = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString('base64');

describe('Docker config credentials', () => {
  it('reads base64 auth, username/password and registry tokens, keyed by host', () => {
    const resolve = parseDockerConfig(
      JSON.stringify({
        auths: {
          'registry.example.com': { auth: auth('ci', 'pa:ss') },
          'https://Other.Example.com/v1/': { username: 'u', password: 'p' },
          'localhost:5000': { registrytoken: 'tkn' },
          'helper-only.example.com': {},
        },
        credsStore: 'desktop',
      }),
    );
    expect(resolve('registry.example.com')).toEqual({ username: 'ci', password: 'pa:ss' });
    expect(resolve('other.example.com')).toEqual({ username: 'u', password: 'p' });
    expect(resolve('localhost:5000')).toEqual({ token: 'tkn' });
    expect(resolve('helper-only.example.com')).toBeUndefined();
    expect(resolve('unknown.example.com')).toBeUndefined();
  });

  it('says which file and entry are broken', () => {
    expect(() => parseDockerConfig('{', '/home/me/.docker/config.json')).toThrow(/\/home\/me\/\.docker\/config\.json: not valid JSON/);
    expect(() => parseDockerConfig(JSON.stringify({ auths: { 'r.io': { auth: Buffer.from('nocolon').toString('base64') } } }))).toThrow(
      /"auth" of r\.io/,
    );
  });

  it('treats a missing file as no credentials and honours DOCKER_CONFIG', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-docker-config-'));
    try {
      expect((await readDockerCredentials(join(dir, 'missing.json')))('r.io')).toBeUndefined();
      await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { 'r.io': { auth: auth('a', 'b') } } }));
      const path = defaultDockerConfigPath({ DOCKER_CONFIG: dir });
      expect(path).toBe(join(dir, 'config.json'));
      expect((await readDockerCredentials(path))('r.io')).toEqual({ username: 'a', password: 'b' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
