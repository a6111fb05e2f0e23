// Proof that every registry instance round-trips an artifact with the ORAS CLI, and that the
// authenticated ones really refuse anonymous pushes.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { requireTestEnv } from './inject.ts';
import type { TestRegistry } from './types.ts';

const execFileAsync = promisify(execFile);
const env = requireTestEnv();
const workDir = await mkdtemp(path.join(tmpdir(), 'flotilla-oras-'));
afterAll(() => rm(workDir, { recursive: true, force: true }));

async function oras(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  // DOCKER_CONFIG keeps oras away from any credentials of the person running the tests.
  return execFileAsync(env.bin.oras, args, { cwd, env: { ...process.env, DOCKER_CONFIG: workDir }, timeout: 30_000 });
}

function credentials(registry: TestRegistry): string[] {
  return registry.username ? ['--username', registry.username, '--password', registry.password ?? ''] : [];
}

const registries = Object.entries(env.registries).filter((entry): entry is [string, TestRegistry] => entry[1] !== undefined);

test('anonymous, basic and token registries are all running', () => {
  expect(registries.map(([name]) => name).sort()).toEqual(['anonymous', 'basic', 'token']);
});

describe.each(registries)('registry %s', (name, registry) => {
  test('oras push then pull round-trips an artifact', async () => {
    const dir = await mkdtemp(path.join(workDir, `${name}-`));
    const content = `flotilla ${name} ${Date.now()}\n`;
    await writeFile(path.join(dir, 'manifest.yaml'), content);
    const reference = `${registry.host}/flotilla/env-proof:${name}`;
    await oras(['push', '--plain-http', ...credentials(registry), reference, 'manifest.yaml:application/vnd.flotilla.test.v1+yaml'], dir);
    const out = path.join(dir, 'pulled');
    await oras(['pull', '--plain-http', ...credentials(registry), '--output', out, reference], dir);
    expect(await readFile(path.join(out, 'manifest.yaml'), 'utf8')).toBe(content);
  });
});

test.each(registries.filter(([, registry]) => registry.auth !== 'anonymous'))(
  'registry %s refuses a push without credentials',
  async (name, registry) => {
    const dir = await mkdtemp(path.join(workDir, `${name}-anon-`));
    await writeFile(path.join(dir, 'x.txt'), 'x');
    await expect(oras(['push', '--plain-http', `${registry.host}/flotilla/denied:1`, 'x.txt'], dir)).rejects.toMatchObject({
      stderr: expect.stringMatching(/401|unauthorized|credential/i),
    });
  },
);
