import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The end-to-end stories (test/e2e) take one to two minutes each in small files, so the default
 * order (previous durations, else file size: none in a fresh clone) starts them last and the run
 * waits for them alone at the end. Started first, they overlap everything else.
 */
class StoriesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const story = (file: TestSpecification) => file.moduleId.includes('/test/e2e/');
    return [...sorted.filter(story), ...sorted.filter((file) => !story(file))];
  }
}

export default defineConfig({
  test: {
    include: ['{functions,agent,cli,lib,infra,test}/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Tests that share the real clusters and registries run in forks; each file owns its names.
    pool: 'forks',
    // Two at a time on the 2-core CI machine (the default there would be one): most of a file's time
    // is waiting on real servers and agent intervals, so two overlap well.
    maxWorkers: 2,
    sequence: { sequencer: StoriesFirst },
    globalSetup: ['test/env/global-setup.ts'],
  },
});
