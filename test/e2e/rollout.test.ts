// Progressive delivery across three real clusters (see rollout-story.ts); `npm run demo` narrates the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTestEnv } from '../env/inject.ts';
import { ROLLOUT_WORLD, removeEuPolicy, runRolloutStory } from './rollout-story.ts';
import { World } from './world.ts';

let world: World;
beforeAll(async () => {
  world = await World.create(requireTestEnv(), () => {}, ROLLOUT_WORLD);
});
afterAll(async () => {
  if (world) await removeEuPolicy(world);
  await world?.stop();
});

describe('progressive delivery across dev, prod-us and prod-eu', () => {
  it('gates, rolls out wave by wave, rolls a failing wave back, breaks a freeze and recalls', async () => {
    const { seconds } = await runRolloutStory(world);
    expect(Object.keys(seconds)).toHaveLength(7);
  }, 600_000);
});
