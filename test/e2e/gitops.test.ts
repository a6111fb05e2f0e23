// The whole product across three real clusters (see story.ts); `npm run demo` narrates the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTestEnv } from '../env/inject.ts';
import { runStory } from './story.ts';
import { World } from './world.ts';

let world: World;
beforeAll(async () => {
  world = await World.create(requireTestEnv());
});
afterAll(async () => {
  await world?.stop();
});

describe('the GitOps story across dev, prod-us and prod-eu', () => {
  it('publishes, promotes, reverts drift, breaks glass, prunes, blocks, rolls back and survives an outage', async () => {
    const { seconds } = await runStory(world);
    expect(Object.keys(seconds)).toHaveLength(9);
  }, 900_000);
});
