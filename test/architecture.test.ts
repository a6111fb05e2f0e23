// The shape of the house, checked: the dependency rules README's "Layout" section states.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const TREES = ['functions', 'agent', 'cli', 'lib', 'infra', 'test'];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(tsx?|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every module a file imports (static, re-exported or dynamic), relative ones resolved to tree paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)].map(
    (match) => match[1] ?? match[2] ?? match[3]!,
  );
  return specifiers.map((specifier) => (specifier.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), specifier)) : specifier));
}

const files = TREES.flatMap(sourceFiles);
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const isTest = (file: string) => file.endsWith('.test.ts') || file.startsWith('test/');
const production = files.filter((file) => !isTest(file));

function violations(from: (file: string) => boolean, forbidden: (target: string) => boolean): string[] {
  return [...graph].filter(([file]) => from(file)).flatMap(([file, targets]) => targets.filter(forbidden).map((target) => `${file} → ${target}`));
}

describe('the dependency rules', () => {
  it('has no import cycle anywhere in the tree', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'visiting');
      for (const target of graph.get(file) ?? []) if (graph.has(target)) visit(target, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('keeps routes thin: they (and the dashboard) never reach storage', () => {
    const handlers = (file: string) => file.startsWith('functions/routes/') || file.startsWith('functions/ui/');
    expect(violations((file) => handlers(file) && !isTest(file), (target) => target.startsWith('functions/storage/'))).toEqual([]);
    const direct = production
      .filter(handlers)
      .filter((file) => /\.storage\b|\bstorage\./.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(direct).toEqual([]);
  });

  it('keeps the control plane apart from the agent and the CLI, which talk to it over HTTP', () => {
    // (their tests may start a control plane in-process)
    expect(violations((file) => file.startsWith('functions/'), (target) => /^(agent|cli)\//.test(target))).toEqual([]);
    expect(violations((file) => /^(agent|cli)\//.test(file) && !isTest(file), (target) => target.startsWith('functions/'))).toEqual([]);
    expect(violations((file) => file.startsWith('lib/'), (target) => /^(functions|agent|cli)\//.test(target))).toEqual([]);
  });

  it('keeps test furniture out of production code', () => {
    expect(production.filter((file) => file.includes('/testing'))).toEqual([]);
    expect(violations((file) => !isTest(file), (target) => target === 'vitest' || target.startsWith('vitest/') || target.startsWith('test/'))).toEqual([]);
  });
});

describe('the agent image', () => {
  it('is built without test files', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
    expect(ignored).toContain('**/*.test.ts');
    expect(ignored).toContain('test/');
  });
});

describe("the agent's apply engine", () => {
  // bench:agent's memory figures depend on it: zod and the API schemas cost about 6 MiB of RSS when
  // loaded, and the build → substitute → apply path needs neither (only their types).
  it('loads no zod and no API schemas on the build and apply path', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { bundleLikeAgent } = await import('../scripts/build.ts');
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-arch-'));
    try {
      const built = await bundleLikeAgent('test/bench/agent-apply-worker.ts', join(dir, 'worker.mjs'));
      const inputs = Object.keys(built.metafile.inputs);
      expect(inputs.some((input) => input.endsWith('agent/artifact.ts'))).toBe(true);
      expect(inputs.some((input) => input.endsWith('agent/substitute.ts'))).toBe(true);
      expect(inputs.filter((input) => /node_modules\/(zod|@hono)\/|lib\/api\/schemas\.ts$/.test(input))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Imported as ES modules, node:http and friends bring undici, http2, zlib and worker_threads with
  // them (9 MiB); scripts/build.ts has bundles require built-ins instead.
  it('loads only the Node built-ins it uses', async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { execFileSync } = await import('node:child_process');
    const { bundleLikeAgent } = await import('../scripts/build.ts');
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-arch-'));
    try {
      const built = await bundleLikeAgent('test/bench/agent-apply-worker.ts', join(dir, 'worker.mjs'));
      // The worker stops at its usage check, after every module it imports has loaded.
      const script = `process.on('exit', () => process.stdout.write(JSON.stringify(process.moduleLoadList))); await import(${JSON.stringify(built.file)}).catch(() => {});`;
      const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
      expect(loaded).toContain('NativeModule https');
      expect(loaded.filter((name) => /undici|http2|worker_threads|zlib|child_process/.test(name))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
