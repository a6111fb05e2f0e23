// `npm run demo`: starts the real test environment and tells the GitOps story, then the
// progressive-delivery story, with narration (`npm run demo -- --rollout`: only the second).
// Exits non-zero on any failure, leaving the process logs in place.
import { startTestEnv } from '../env/harness.ts';
import { ROLLOUT_WORLD, removeEuPolicy, runRolloutStory } from './rollout-story.ts';
import { runStory } from './story.ts';
import { World, type WorldOptions } from './world.ts';

// The narration is for people; the SDK's notice about future Node versions is not part of the story.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const started = Date.now();
const say = (line: string) => console.log(line);
type Story = { title: string; options: WorldOptions; run: (world: World, narrate: typeof say) => Promise<{ seconds: Record<string, number> }>; cleanUp?: (world: World) => Promise<void> };
const stories: Story[] = [
  { title: 'The GitOps story', options: {}, run: runStory },
  { title: 'The progressive-delivery story', options: ROLLOUT_WORLD, run: runRolloutStory, cleanUp: removeEuPolicy },
].filter((story) => !process.argv.includes('--rollout') || story.run === runRolloutStory);

say('Starting three Kubernetes clusters (dev, prod-us, prod-eu), an OCI registry and moto…');
const running = await startTestEnv();
let failed = false;
for (const story of stories) {
  const world = await World.create(running.env, () => {}, story.options);
  say(`\n#### ${story.title}`);
  try {
    const { seconds } = await story.run(world, say);
    say(`\n${story.title} held. Steps took ${Object.entries(seconds).map(([step, s]) => `${step.split('.')[0]}: ${s.toFixed(0)}s`).join(', ')}; ${Object.values(seconds).reduce((a, b) => a + b, 0).toFixed(0)}s in all.`);
  } catch (err) {
    failed = true;
    console.error(`\nDEMO FAILED in ${story.title}: ${(err as Error).message}`);
    console.error(`process logs: ${world.dir}/logs and ${running.env.logDir}`);
  } finally {
    await story.cleanUp?.(world);
    await world.stop();
  }
  if (failed) break;
}
say(`\n${((Date.now() - started) / 1000).toFixed(0)}s in all.`);
await running.stop({ keepState: failed });
process.exit(failed ? 1 : 0);
