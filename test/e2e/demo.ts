// `npm run demo`: starts the real test environment and tells the GitOps story with narration.
// Exits non-zero on any failure, leaving the process logs in place.
import { startTestEnv } from '../env/harness.ts';
import { runStory } from './story.ts';
import { World } from './world.ts';

// The narration is for people; the SDK's notice about future Node versions is not part of the story.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const started = Date.now();
const say = (line: string) => console.log(line);
say('Starting three Kubernetes clusters (dev, prod-us, prod-eu), an OCI registry and moto…');
const running = await startTestEnv();
const world = await World.create(running.env);
let failed = false;
try {
  const { seconds } = await runStory(world, say);
  say(`\nThe story held. Steps took ${Object.entries(seconds).map(([step, s]) => `${step.split('.')[0]}: ${s.toFixed(0)}s`).join(', ')}; ${((Date.now() - started) / 1000).toFixed(0)}s in all.`);
} catch (err) {
  failed = true;
  console.error(`\nDEMO FAILED: ${(err as Error).message}`);
  console.error(`process logs: ${world.dir}/logs and ${running.env.logDir}`);
} finally {
  await world.stop();
  await running.stop({ keepState: failed });
}
process.exit(failed ? 1 : 0);
