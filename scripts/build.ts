// `npm run build`: the two things Flotilla ships, bundled with esbuild as they run in production.
//   dist/lambda/index.mjs       the control plane's Lambda handler (`handler`, `clock`, `notify`), ESM for nodejs24.x;
//                               sst.config.ts deploys this directory as it is (infra/control-plane.ts)
//   dist/agent/flotilla-agent.mjs  the agent: one file that plain `node` runs (the agent image's entrypoint)
// Options: --sdk=bundled|external (the AWS SDK in the Lambda bundle or taken from the runtime;
// README, "Runtimes and bundles", says which is deployed and why), --outdir=dir.
import { pathToFileURL } from 'node:url';
import { copyFile, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { builtinModules } from 'node:module';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
import { AGENT_NODE_FLAGS } from '../agent/node-flags.ts';
import { SWAGGER_UI_FILES } from '../functions/ui/docs.ts';

export { AGENT_NODE_FLAGS };

const ROOT = resolve(import.meta.dirname, '..');
export const NODE_TARGET = 'node24';

export type SdkMode = 'bundled' | 'external';

/**
 * ESM bundles need `require` for the CommonJS packages esbuild inlines (they call require on Node
 * built-ins); this banner gives them one, as AWS's own Node runtime docs suggest for ESM bundles.
 */
const REQUIRE_SHIM = "import { createRequire as __flotillaCreateRequire } from 'node:module'; const require = __flotillaCreateRequire(import.meta.url);";

/**
 * Node built-ins through `require`, not `import`. For an ES module importing `node:http` Node builds
 * a module facade that reads every export of the built-in, lazy ones included (http.WebSocket and
 * friends), and that loads undici, http2, zlib and worker_threads whether they are used or not:
 * +9 MiB of RSS in the agent's apply engine (README, "Agent memory"). Required, a built-in loads
 * only itself. The shim module's own require is left to the banner's `require`.
 */
const BUILTIN = new RegExp(`^(node:)?(${builtinModules.map((name) => name.replace(/[/]/g, '\\/')).join('|')})$`);
const builtinsThroughRequire: Plugin = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: BUILTIN }, (args) =>
      args.namespace === 'builtin' ? { path: args.path, external: true } : { path: args.path, namespace: 'builtin' },
    );
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: NODE_TARGET,
  minify: true,
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'linked',
  banner: { js: REQUIRE_SHIM },
  plugins: [builtinsThroughRequire],
  metafile: true,
  logLevel: 'warning',
  absWorkingDir: ROOT,
};

export interface BuiltBundle {
  file: string;
  bytes: number;
  metafile: Metafile;
}

async function bundle(entry: string, outfile: string, options: BuildOptions): Promise<BuiltBundle> {
  await mkdir(resolve(outfile, '..'), { recursive: true });
  const result = await build({ ...common, ...options, entryPoints: [join(ROOT, entry)], outfile });
  // What went into it, for `npx esbuild-visualizer` or bench:lambda; kept out of the shipped directory.
  // dist/lambda/index.mjs → dist/meta/lambda-index.mjs.json
  const outdir = dirname(outfile);
  const metaDir = join(outdir, '..', 'meta');
  await mkdir(metaDir, { recursive: true });
  await writeFile(join(metaDir, `${basename(outdir)}-${basename(outfile)}.json`), JSON.stringify(result.metafile));
  return { file: outfile, bytes: (await stat(outfile)).size, metafile: result.metafile! };
}

/** The Lambda handler; with `sdk: 'external'` the runtime's own AWS SDK v3 is used. */
export async function buildLambda(outdir = join(ROOT, 'dist', 'lambda'), sdk: SdkMode = 'bundled'): Promise<BuiltBundle> {
  await rm(outdir, { recursive: true, force: true });
  const built = await bundle('functions/lambda.ts', join(outdir, 'index.mjs'), {
    external: sdk === 'external' ? ['@aws-sdk/*', '@smithy/*'] : [],
  });
  // The handler is `index.handler` (and `index.clock`); package.json marks .mjs as ESM anyway.
  await writeFile(join(outdir, 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
  // /docs serves Swagger UI's own files (functions/ui/docs.ts reads them from swagger-ui/ beside the bundle).
  await mkdir(join(outdir, 'swagger-ui'), { recursive: true });
  for (const file of SWAGGER_UI_FILES) await copyFile(join(ROOT, 'node_modules', 'swagger-ui-dist', file), join(outdir, 'swagger-ui', file));
  return built;
}

/** Bundles any entry (relative to the repository) exactly as the agent is bundled: bench:agent runs its worker this way. */
export function bundleLikeAgent(entry: string, outfile: string): Promise<BuiltBundle> {
  return bundle(entry, outfile, {});
}

/**
 * The agent as one file, and `node-flags` beside it: the Node flags it must run with, one line,
 * for the image entrypoint (`node $(cat node-flags) flotilla-agent.mjs`) and agent/deploy.
 */
export async function buildAgent(outdir = join(ROOT, 'dist', 'agent')): Promise<BuiltBundle> {
  await rm(outdir, { recursive: true, force: true });
  const built = await bundleLikeAgent('agent/main.ts', join(outdir, 'flotilla-agent.mjs'));
  await writeFile(join(outdir, 'node-flags'), AGENT_NODE_FLAGS.join(' ') + '\n');
  return built;
}

async function main(): Promise<void> {
  const flags = Object.fromEntries(process.argv.slice(2).map((arg) => arg.replace(/^--/, '').split('=') as [string, string]));
  const sdk = (flags['sdk'] ?? 'bundled') as SdkMode;
  if (sdk !== 'bundled' && sdk !== 'external') throw new Error(`--sdk must be bundled or external, not ${sdk}`);
  const outdir = resolve(flags['outdir'] ?? join(ROOT, 'dist'));
  for (const built of [await buildLambda(join(outdir, 'lambda'), sdk), await buildAgent(join(outdir, 'agent'))]) {
    console.log(`${relative(process.cwd(), built.file)}  ${(built.bytes / 1024).toFixed(0)} KiB`);
  }
}

// Run as a script (not imported by a test or bench); import.meta.main is Node ≥ 22.18 only.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    await main();
  } catch (error) {
    console.error(`build: ${(error as Error).message.split('\n')[0]}`);
    process.exitCode = 1;
  }
}
